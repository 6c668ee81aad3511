#!/bin/bash -eu
# Builds every cargo-fuzz target of fuzz/Cargo.toml into $OUT, each with its committed
# corpus as the seed corpus. The farm's cargo-fuzz adds its sanitizer (AddressSanitizer,
# the one ClusterFuzzLite and OSS-Fuzz run for Rust); local runs and CI use `-s none`
# (fuzz/README.md). Release with debug assertions and overflow checks, as `cargo fuzz
# run` builds by default.
cd "$SRC/sscard"
cargo fuzz build -O --debug-assertions
release="fuzz/target/x86_64-unknown-linux-gnu/release"
for target in $(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^sscard-fuzz$'); do
  cp "$release/$target" "$OUT/"
  if [ -d "fuzz/corpus/$target" ]; then
    (cd "fuzz/corpus/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
  fi
done
