#!/usr/bin/env bash
# scripts/ffi-c.sh — the C ABI (crates/sscard-ffi) from C: checks the committed header
# against cbindgen (when cbindgen is installed: `cargo install cbindgen`), builds the
# library, compiles the C test and example with `cc` (-Wall -Wextra -Werror, C11) and the
# header as C++, and runs them. Run by scripts/test.
#
#   bash scripts/ffi-c.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
cargo_flags=()
if [ "${1:-}" = --release ]; then profile=release; cargo_flags=(--release); fi
target=${CARGO_TARGET_DIR:-$PWD/target}
out=$target/ffi-c
mkdir -p "$out"
ffi=crates/sscard-ffi

if command -v cbindgen >/dev/null; then
  cbindgen --quiet --config $ffi/cbindgen.toml --crate sscard-ffi --output "$out/sscard.h" $ffi
  if ! diff -u $ffi/include/sscard.h "$out/sscard.h"; then
    echo "crates/sscard-ffi/include/sscard.h is stale: run" >&2
    echo "  (cd $ffi && cbindgen --config cbindgen.toml --output include/sscard.h)" >&2
    exit 1
  fi
else
  echo "[ffi-c] cbindgen not installed: committed header not re-checked" >&2
fi

cargo build --quiet -p sscard-ffi "${cargo_flags[@]}"
lib=$target/$profile
cflags=(-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -pedantic -I $ffi/include)

# The header alone, as C++.
c++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only -x c++ $ffi/include/sscard.h
# The test against the shared library, the example against the static one.
cc "${cflags[@]}" $ffi/c/test.c -L "$lib" -lsscard_ffi -Wl,-rpath,"$lib" -o "$out/test"
cc "${cflags[@]}" $ffi/c/example.c "$lib/libsscard_ffi.a" -lpthread -ldl -lm -o "$out/example"
"$out/test"
"$out/example" >"$out/example.out"
grep -q '^card number ' "$out/example.out" || { cat "$out/example.out"; exit 1; }
echo "[ffi-c] example: $(grep '^card number' "$out/example.out")" >&2
