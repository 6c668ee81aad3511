#!/usr/bin/env bash
# scripts/fuzz-coverage.sh — line coverage of the committed fuzz corpora.
#
#   bash scripts/fuzz-coverage.sh [TARGET...]      (default: every whole-card target)
#
# For each target: `cargo fuzz coverage` replays fuzz/corpus/<target> through a
# coverage-instrumented build; llvm-cov (rustup's llvm-tools, which match rustc's LLVM)
# then reports. Printed per target: line coverage of each crate's sources, of the command
# handlers (card OS, social-security applications, PBOC), and the handler functions the
# corpus never reaches. Needs cargo-fuzz and `rustup component add llvm-tools-preview`.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(card_session pboc_session tear_session)

sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
llvm_bin="$sysroot/lib/rustlib/$host/bin"
if [ ! -x "$llvm_bin/llvm-cov" ]; then
  echo "llvm-cov not found: rustup component add llvm-tools-preview" >&2
  exit 1
fi

# The command handlers: every module that decodes or executes an APDU.
handlers='crates/sscard-core/src/(card|fs|auth|ssc)/|crates/sscard-pboc/src/(lib|txn|records|script|cryptogram)\.rs'

for target in "${targets[@]}"; do
  RUSTC_BOOTSTRAP=1 cargo fuzz coverage "$target" "fuzz/corpus/$target" >/dev/null 2>&1
  profdata="fuzz/coverage/$target/coverage.profdata"
  binary=$(find fuzz/target -path "*coverage*" -name "$target" -type f -perm -u+x | head -1)
  report=$("$llvm_bin/llvm-cov" report "$binary" -instr-profile="$profdata" \
    -ignore-filename-regex='/(\.cargo|rustc|\.rustup)/|fuzz/fuzz_targets' 2>/dev/null)
  echo "== $target ($(find "fuzz/corpus/$target" -type f | wc -l) corpus inputs)"
  # Columns: file, regions, missed, cover, functions, missed, executed, lines, missed, cover.
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
          printf "  %-16s lines %6d  covered %5.1f %%\n", c, lines[c], 100 * (lines[c] - missed[c]) / lines[c]
      if (hl > 0)
        printf "  %-16s lines %6d  covered %5.1f %%\n", "command handlers", hl, 100 * (hl - hm) / hl
    }' <<<"$report"
  # Handler functions with no line executed.
  files=$(awk '$1 ~ /\.rs$/ { print $1 }' <<<"$report" | grep -E "$handlers" || true)
  if [ -n "$files" ]; then
    # shellcheck disable=SC2086
    "$llvm_bin/llvm-cov" report "$binary" -instr-profile="$profdata" -show-functions $files 2>/dev/null |
      awk '$1 !~ /^(Name|-|File|TOTAL)/ && NF >= 7 && $(NF-1) == $(NF-2) && $(NF-2) > 0 { print $1 }' |
      "$llvm_bin/../../../../bin/rustfilt" 2>/dev/null ||
      "$llvm_bin/llvm-cov" report "$binary" -instr-profile="$profdata" -show-functions $files 2>/dev/null |
      awk '$1 !~ /^(Name|-|File|TOTAL)/ && NF >= 7 && $(NF-1) == $(NF-2) && $(NF-2) > 0 { print "  never reached: " $1 }'
  fi
done
