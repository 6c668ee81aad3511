#!/usr/bin/env bash
# scripts/fuzz-coverage.sh — line coverage of the committed fuzz corpora.
#
#   bash scripts/fuzz-coverage.sh [TARGET...]      (default: the whole-card targets)
#
# For each target, `cargo fuzz coverage` replays fuzz/corpus/<target> through a
# coverage-instrumented build, and llvm-cov (rustup's llvm-tools, which match rustc's
# LLVM) reports. Printed per target: the line coverage of each crate, of the command
# handlers (the card OS, the social-security applications, PBOC), and the handler
# functions the corpus never enters. Needs cargo-fuzz and
# `rustup component add llvm-tools-preview`.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(card_session pboc_session tear_session ops_session)

sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
llvm_cov="$sysroot/lib/rustlib/$host/bin/llvm-cov"
if [ ! -x "$llvm_cov" ]; then
  echo "llvm-cov not found: rustup component add llvm-tools-preview" >&2
  exit 1
fi

# The command handlers: the modules that decode or execute an APDU.
handlers='crates/sscard-core/src/(card|fs|auth|ssc)/[a-z_]+\.rs|crates/sscard-pboc/src/(lib|txn|records|script|cryptogram|rsa_oda)\.rs'
not_ours='/(\.cargo|rustc|\.rustup)/|fuzz/fuzz_targets|/build\.rs$|/tests?\.rs$'

unreached=$(mktemp -d -t sscard-coverage.XXXXXX)
trap 'rm -rf "$unreached"' EXIT

for target in "${targets[@]}"; do
  RUSTC_BOOTSTRAP=1 cargo fuzz coverage "$target" "fuzz/corpus/$target" >/dev/null 2>&1
  profdata="fuzz/coverage/$target/coverage.profdata"
  binary=$(find target fuzz/target -path "*/coverage/*/release/$target" -type f 2>/dev/null | head -1)
  report=$("$llvm_cov" report "$binary" -instr-profile="$profdata" \
    -ignore-filename-regex="$not_ours" 2>/dev/null)
  echo "== $target ($(find "fuzz/corpus/$target" -type f | wc -l) corpus inputs)"
  # llvm-cov's columns: file, regions, missed, cover, functions, missed, executed,
  # lines, missed lines, line cover, …
  awk -v handlers="$handlers" '
    $1 ~ /\.rs$/ {
      crate = "sscard (host)"
      if ($1 ~ /crates\/sscard-core/) crate = "sscard-core"
      else if ($1 ~ /crates\/sscard-pboc/) crate = "sscard-pboc"
      else if ($1 ~ /crates\/sscard-vcard/) crate = "sscard-vcard"
      lines[crate] += $8; missed[crate] += $9
      if ($1 ~ handlers) { hl += $8; hm += $9 }
    }
    END {
      for (c in lines)
        if (lines[c] > 0)
          printf "  %-17s %6d lines, %5.1f %% covered\n", c, lines[c], 100 * (lines[c] - missed[c]) / lines[c]
      if (hl > 0)
        printf "  %-17s %6d lines, %5.1f %% covered\n", "command handlers", hl, 100 * (hl - hm) / hl
    }' <<<"$report" | sort
  # Handler functions whose first line ran zero times (all instantiations together).
  for file in $(awk '$1 ~ /\.rs$/ { print $1 }' <<<"$report" | grep -E "$handlers" || true); do
    "$llvm_cov" show "$binary" -instr-profile="$profdata" -show-instantiations=false "$file" 2>/dev/null |
      grep -E '^\s*[0-9]+\|\s+0\|\s*(pub(\([a-z]+\))? )?(const )?fn ' |
      sed -E "s#^\s*([0-9]+)\|\s+0\|\s*(pub(\([a-z]+\))? )?(const )?fn ([A-Za-z0-9_]+).*#\5 ($file:\1)#" || true
  done >"$unreached/$target"
  echo "  handler functions this target never enters: $(wc -l <"$unreached/$target")"
done

# The handler functions no target enters.
echo "== handler functions no target enters"
sort "$unreached"/* | uniq -c | awk -v n="${#targets[@]}" '$1 == n { $1 = ""; print " " $0 }'
