#!/usr/bin/env bash
# Sourced by the callgrind scripts: `bench_executable NAME` builds the bench NAME of
# benches/openssl (without running it) and prints the path of its executable, which
# valgrind then runs.
bench_executable() {
  cargo bench --manifest-path benches/openssl/Cargo.toml --bench "$1" --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$1"
}
