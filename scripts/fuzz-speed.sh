#!/usr/bin/env bash
# scripts/fuzz-speed.sh — executions per second of every fuzz target under libFuzzer.
#
#   bash scripts/fuzz-speed.sh [SECONDS] [cargo-fuzz build options...]
#
# Builds the targets (default: `-s none --no-trace-compares`, as scripts/test runs them;
# pass e.g. `-s none` to measure with libFuzzer's comparison hooks, `-s address` for
# AddressSanitizer), then runs each for SECONDS (default 60),
# one at a time, from its committed corpus into a scratch directory, and prints per
# target libFuzzer's executions, its executions per second, the executions per second of
# CPU time (the process's user + system time: what a shared machine's other jobs do not
# skew) and that rate's ratio to apdu_parse's in the same run, with cov and ft.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
build=("$@")
[ ${#build[@]} -gt 0 ] || build=(-s none --no-trace-compares)

RUSTC_BOOTSTRAP=1 cargo fuzz build "${build[@]}" >/dev/null 2>&1
bin=fuzz/target/x86_64-unknown-linux-gnu/release
scratch=$(mktemp -d -t sscard-fuzz-speed.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

printf '%-14s %12s %10s %12s %10s %6s %7s\n' target execs execs/s "execs/CPU s" ratio cov ft
reference=
for target in $(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^sscard-fuzz$'); do
  mkdir -p "$scratch/$target"
  /usr/bin/time -f '%U %S' -o "$scratch/$target.time" "$bin/$target" "$scratch/$target" \
    "fuzz/corpus/$target" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$scratch/" >"$scratch/$target.log" 2>&1
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$target.log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$scratch/$target.log")
  cpu=$(awk '{ print $1 + $2 }' "$scratch/$target.time")
  per_cpu=$(awk -v e="$execs" -v c="$cpu" 'BEGIN { printf "%.0f", e / c }')
  # apdu_parse comes first in fuzz/Cargo.toml: the reference of the ratios.
  [ "$target" != apdu_parse ] || reference=$per_cpu
  read -r cov ft < <(grep -E 'DONE' "$scratch/$target.log" | tail -1 |
    sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+).*/\1 \2/')
  printf '%-14s %12s %10s %12s %10s %6s %7s\n' "$target" "$execs" "$rate" "$per_cpu" \
    "$(awk -v a="$per_cpu" -v r="$reference" 'BEGIN { printf "%.4f", a / r }')" "$cov" "$ft"
done
