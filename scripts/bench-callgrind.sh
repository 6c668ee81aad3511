#!/usr/bin/env bash
# scripts/bench-callgrind.sh [FLOWS] — instructions per `iReadCardBas` flow (card side),
# counted by valgrind's callgrind: repeatable whatever else the machine is doing, unlike
# wall time. Runs benches/flow_profile.rs (the same replay as the criterion bench
# benches/read_card_bas.rs) collecting only inside its timed loop, then prints the
# instructions per flow and the functions where they go (inclusive, per flow).
#
# Needs valgrind (callgrind_annotate comes with it).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-executable.sh

flows=${1:-2000}
exe=$(bench_executable flow_profile)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
  --toggle-collect='flow_profile::timed_flows' "$exe" "$flows" >"$out/stdout" 2>"$out/stderr"
total=$(callgrind_annotate "$out/cg" | awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }')
echo "flows: $flows (under valgrind: $(cat "$out/stdout"))"
echo "instructions per flow (card side): $((total / flows))"
echo
echo "where they go (inclusive instructions per flow, functions above 3 % of the flow):"
callgrind_annotate --inclusive=yes --threshold=100 "$out/cg" |
  python3 -c '
import re, sys
flows, total = int(sys.argv[1]), int(sys.argv[2])
seen = set()
for line in sys.stdin:
    m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S.*?):(.*?)( \[.*\])?$", line)
    if not m or re.search(r"\(\d[\d,]*x\)$", line.strip()):
        continue
    ir = int(m.group(1).replace(",", ""))
    fn = m.group(3)
    # Keep the crate code, once per function (callgrind lists inlined copies per file).
    if ir < total * 0.03 or fn in seen or not re.search(r"sscard_core|sm4|sm3|des::|crc", fn):
        continue
    seen.add(fn)
    print(f"{ir // flows:>8}  {100 * ir / total:5.1f} %  {fn}")
' "$flows" "$total"
