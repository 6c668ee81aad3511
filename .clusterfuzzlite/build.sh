#!/bin/bash -eu
# Builds every cargo-fuzz target of fuzz/Cargo.toml (the same binaries `cargo fuzz run`
# builds locally) into $OUT, each with its committed corpus as the seed corpus.
cd "$SRC/sscard"
cargo fuzz build -O
release="fuzz/target/x86_64-unknown-linux-gnu/release"
for target in $(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^sscard-fuzz$'); do
  cp "$release/$target" "$OUT/"
  if [ -d "fuzz/corpus/$target" ]; then
    (cd "fuzz/corpus/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
  fi
done
