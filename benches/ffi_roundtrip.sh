#!/usr/bin/env bash
# benches/ffi_roundtrip.sh [N] — APDU round trip with the card in-process, from C (the
# C ABI, crates/sscard-ffi/c/bench.c) and from Python (the sscard package,
# bindings/python/bench/roundtrip.py), each as a ratio to the same APDU over PC/SC
# (pcsc-lite / pyscard -> pcscd -> vpcd -> `sscard run`) measured in the same run,
# alternating blocks of 100 APDUs; medians of the per-block means.
#
# Needs pcscd + vpcd running (bash scripts/pcscd.sh start), libpcsclite-dev, and the
# Python package built in release (done here, in target/python-bench-venv, a virtualenv
# of /usr/bin/python3 that sees Debian's pyscard).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
target=${CARGO_TARGET_DIR:-$PWD/target}
export CARGO_TARGET_DIR=$target
work=$(mktemp -d -t sscard-ffi-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --quiet --bin sscard
cargo build --release --quiet -p sscard-ffi
ffi=crates/sscard-ffi
# shellcheck disable=SC2046
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -I $ffi/include \
  $(pkg-config --cflags libpcsclite) $ffi/c/bench.c "$target/release/libsscard_ffi.a" \
  $(pkg-config --libs libpcsclite) -lpthread -ldl -lm -o "$work/bench"

venv=$target/python-bench-venv
if [ ! -x "$venv/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
if [ ! -x "$venv/bin/maturin" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check maturin
fi
CARGO_TARGET_DIR=$target/python VIRTUAL_ENV=$venv PATH=$venv/bin:$PATH maturin develop --quiet --release \
  --manifest-path bindings/python/Cargo.toml

"$target/release/sscard" run --slot 0 >"$work/sscard.log" 2>&1 &
pids+=($!)
"$work/bench" "$n" "Virtual PCD 00 00"
echo
"$venv/bin/python" bindings/python/bench/roundtrip.py "$n" "Virtual PCD 00 00"
