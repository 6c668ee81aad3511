#!/usr/bin/env bash
# scripts/fuzz-coverage.sh — line coverage of the committed fuzz corpora.
#
#   bash scripts/fuzz-coverage.sh [--lines] [TARGET...]   (default: the whole-card targets)
#
# For each target, `cargo fuzz coverage` replays fuzz/corpus/<target> through a
# coverage-instrumented build, and llvm-cov (rustup's llvm-tools, which match rustc's
# LLVM) reports. Printed per target and for all of them together (the profiles merged,
# every target's binary given to llvm-cov): the line coverage of each crate and of the
# command handlers, then, for all targets together, each handler file and the handler
# functions no target enters. With --lines, also every handler line no target runs.
# Needs cargo-fuzz and `rustup component add llvm-tools-preview`.
#
# The command handlers: the card OS (sscard-core's card/, fs/ and auth/), the
# social-security applications (sscard-ssc's purse and PKI) and PBOC (sscard-pboc),
# without the personalization code that only builds images (fs/build.rs, PBOC's
# perso.rs and profile.rs): fuzzing runs commands, never personalizes.
set -euo pipefail
cd "$(dirname "$0")/.."

show_lines=false
if [ "${1:-}" = --lines ]; then
  show_lines=true
  shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(card_session pboc_session tear_session ops_session)

sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
tools="$sysroot/lib/rustlib/$host/bin"
if [ ! -x "$tools/llvm-cov" ]; then
  echo "llvm-cov not found: rustup component add llvm-tools-preview" >&2
  exit 1
fi

# llvm-cov names files relative to their common directory (crates/): match either way.
handlers='(crates/)?sscard-core/src/(card|fs|auth)/[a-z_]+\.rs|(crates/)?sscard-ssc/src/(purse|pki)\.rs|(crates/)?sscard-pboc/src/[a-z_0-9]+\.rs'
not_handlers='fs/build\.rs|sscard-pboc/src/(perso|profile)\.rs'
not_ours='/(\.cargo|rustc|\.rustup)/|fuzz/fuzz_targets|/build\.rs$|/tests?\.rs$'

work=$(mktemp -d -t sscard-coverage.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Coverage per crate and of the handlers, from an `llvm-cov report` on stdin.
summarize() {
  awk -v handlers="$handlers" -v not_handlers="$not_handlers" '
    $1 ~ /\.rs$/ {
      crate = $1
      sub(/^crates\//, "", crate)
      sub(/\/.*/, "", crate)
      lines[crate] += $8; missed[crate] += $9
      if ($1 ~ handlers && $1 !~ not_handlers) { hl += $8; hm += $9 }
    }
    END {
      for (c in lines)
        if (lines[c] > 0)
          printf "  %-17s %6d lines, %5.1f %% covered\n", c, lines[c], 100 * (lines[c] - missed[c]) / lines[c]
      if (hl > 0)
        printf "  %-17s %6d lines, %5.1f %% covered (%d not run)\n", "command handlers", hl, 100 * (hl - hm) / hl, hm
    }' | sort
}

# The handler files of an `llvm-cov report` on stdin.
handler_files() {
  awk -v handlers="$handlers" -v not_handlers="$not_handlers" \
    '$1 ~ handlers && $1 !~ not_handlers { print $1 }'
}

# Handler functions whose first line ran zero times (all instantiations together), for
# the profile $1 and the binaries after it.
unentered_functions() {
  local profile=$1 file
  shift
  for file in $("$tools/llvm-cov" report "$@" -instr-profile="$profile" \
    -ignore-filename-regex="$not_ours" 2>/dev/null | handler_files); do
    "$tools/llvm-cov" show "$@" -instr-profile="$profile" -show-instantiations=false \
      "$(find crates -path "*${file#crates/}" | head -1)" 2>/dev/null |
      grep -E '^\s*[0-9]+\|\s+0\|\s*(pub(\([a-z]+\))? )?(const )?fn ' |
      sed -E "s#^\s*([0-9]+)\|\s+0\|\s*(pub(\([a-z]+\))? )?(const )?fn ([A-Za-z0-9_]+).*#  \5 ($file:\1)#" || true
  done
}

objects=()
for target in "${targets[@]}"; do
  RUSTC_BOOTSTRAP=1 cargo fuzz coverage "$target" "fuzz/corpus/$target" >/dev/null 2>&1
  binary=$(find target fuzz/target -path "*/coverage/*/release/$target" -type f 2>/dev/null | head -1)
  cp "fuzz/coverage/$target/coverage.profdata" "$work/$target.profdata"
  objects+=("$binary")
  echo "== $target ($(find "fuzz/corpus/$target" -type f | wc -l) corpus inputs)"
  "$tools/llvm-cov" report "$binary" -instr-profile="$work/$target.profdata" \
    -ignore-filename-regex="$not_ours" 2>/dev/null | summarize
  echo "  handler functions this target never enters: $(unentered_functions \
    "$work/$target.profdata" "$binary" | wc -l)"
done

"$tools/llvm-profdata" merge -sparse "$work"/*.profdata -o "$work/all.profdata"
object_args=("${objects[0]}")
for binary in "${objects[@]:1}"; do
  object_args+=(-object "$binary")
done
cov() {
  "$tools/llvm-cov" "$1" "${object_args[@]}" -instr-profile="$work/all.profdata" \
    -ignore-filename-regex="$not_ours" "${@:2}" 2>/dev/null
}
report=$(cov report)
echo "== all targets together"
summarize <<<"$report"
echo "== handler files, all targets together (lines, not run, covered)"
awk -v handlers="$handlers" -v not_handlers="$not_handlers" \
  '$1 ~ handlers && $1 !~ not_handlers { printf "  %-40s %5d %5d %8s\n", $1, $8, $9, $10 }' <<<"$report"

echo "== handler functions no target enters"
unentered_functions "$work/all.profdata" "${object_args[@]}"
if $show_lines; then
  echo "== handler lines no target runs"
  for file in $(handler_files <<<"$report"); do
    cov show -show-instantiations=false "$(find crates -path "*${file#crates/}" | head -1)" |
      grep -E '^\s*[0-9]+\|\s+0\|' | sed -E "s#^\s*([0-9]+)\|\s+0\|#  $file:\1 #" || true
  done
fi
