#!/usr/bin/env bash
# scripts/bench-crypto.sh [--criterion [ARGS...] | --count | ROUNDS] — the card's
# cryptography against OpenSSL 3 on this machine, as ratios measured in one run: per
# operation, the card's code (sscard), the RustCrypto crate it wraps and OpenSSL, and the
# ratios sscard/OpenSSL, crate/OpenSSL and sscard/crate (the wrapper's cost: 1.00 = adds
# nothing).
#
#   (default)    benches/crypto_ratio.rs: the implementations interleaved in short
#                batches, ratio per round, median and interquartile range over ROUNDS
#                rounds (default 301) — robust when other jobs share the machine.
#   --criterion  the criterion bench benches/crypto.rs (ARGS pass through, e.g.
#                `--measurement-time 3` or a filter `SM4`), then its medians and ratios.
#                Each implementation is measured seconds apart: noisier ratios.
#   --count      instructions per operation (valgrind's callgrind,
#                benches/crypto_count.rs): repeatable whatever the load; exact for
#                sscard/crate, only indicative against OpenSSL (instructions are not
#                cycles).
#
# Needs libssl-dev (the benches link OpenSSL 3); --count needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}

report() { # stdin: group <TAB> implementation <TAB> value; $1: unit
  python3 -c '
import sys
unit = sys.argv[1]
rows, order = {}, []
for line in sys.stdin:
    g, imp, v = line.rstrip("\n").split("\t")
    if g not in rows:
        rows[g] = {}
        order.append(g)
    rows[g][imp] = float(v)
def fmt(v):
    if unit == "ns":
        return f"{v / 1000:.1f} µs" if v >= 10000 else f"{v:.0f} ns"
    return f"{v:,.0f}"
print(f"| operation | sscard | RustCrypto | OpenSSL | sscard / OpenSSL | RustCrypto / OpenSSL | sscard / RustCrypto |")
print("|---|---|---|---|---|---|---|")
for g in order:
    r = rows[g]
    o, c, s = r.get("OpenSSL"), r.get("RustCrypto"), r.get("sscard")
    ratio = lambda a, b: f"{a / b:.2f}" if a and b else "–"
    print(f"| {g} | {fmt(s)} | {fmt(c)} | {fmt(o)} | {ratio(s, o)} | {ratio(c, o)} | {ratio(s, c)} |")
' "$1"
}

if [ "${1:-}" = "--count" ]; then
  shift
  . scripts/bench-executable.sh
  exe=$(bench_executable crypto_count)
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  echo "instructions per operation (callgrind, one process per case):"
  "$exe" | while IFS=$'\t' read -r index group implementation runs; do
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
      --toggle-collect='crypto_count::measure' "$exe" "$index" >/dev/null 2>"$out/stderr"
    total=$(callgrind_annotate "$out/cg" |
      awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }')
    printf '%s\t%s\t%s\n' "$group" "$implementation" "$((total / runs))"
  done | report instructions
  exit 0
fi

if [ "${1:-}" != "--criterion" ]; then
  exec cargo bench --manifest-path benches/openssl/Cargo.toml --bench crypto_ratio -- "$@"
fi
shift
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
cargo bench --manifest-path benches/openssl/Cargo.toml --bench crypto -- "$@"
echo
echo "median time per operation, this run:"
python3 -c '
import json, os, sys
root, stamp = sys.argv[1], os.path.getmtime(sys.argv[2])
rows = []
for dirpath, dirs, files in os.walk(root):
    if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
        continue
    est = os.path.join(dirpath, "estimates.json")
    if os.path.getmtime(est) < stamp:
        continue
    b = json.load(open(os.path.join(dirpath, "benchmark.json")))
    e = json.load(open(est))
    rows.append((os.path.getmtime(est), b["group_id"], b["function_id"], e["median"]["point_estimate"]))
for _, g, f, v in sorted(rows):
    print(f"{g}\t{f}\t{v}")
' "$target/criterion" "$stamp" | report ns
