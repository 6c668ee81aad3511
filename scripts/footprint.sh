#!/usr/bin/env bash
# scripts/footprint.sh — the card's footprint, checked against footprint/budget.toml:
#
#   flash  .text + .rodata + .data of footprint/ (a firmware-like no_std binary that loads
#          a Card from NVM and answers APDUs) for thumbv7em-none-eabihf, `size` profile,
#          once per configuration below, with the largest contributors by crate;
#   RAM    size_of one Card on thumbv7em (read from the firmware's SSCARD_CARD_RAM symbol);
#   NVM    the default gen-3 image: configured size and bytes used (tests/footprint.rs).
#
# Exits non-zero when a figure exceeds its budget. Needs the thumbv7em-none-eabihf target
# and a `size`/`nm` pair for ARM ELF: llvm-size/llvm-nm (Debian `llvm`) or
# arm-none-eabi-size/-nm (Debian `binutils-arm-none-eabi`; .ci/run installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

# What is measured: "label|cargo features of footprint/". The flash budget applies to
# each; the last line should hold every component.
CONFIGS=(
  "core+SSC|"
  "core+SSC+PBOC|pboc"
)

budget() { sed -n "s/^$1 *= *\([0-9]*\).*/\1/p" footprint/budget.toml; }
flash_budget=$(budget flash_bytes)
ram_budget=$(budget card_ram_bytes)

tool() { # first of the candidates found on PATH
  for t in "$@"; do
    if command -v "$t" >/dev/null; then
      echo "$t"
      return
    fi
  done
  echo "footprint: none of $* found (apt-get install binutils-arm-none-eabi)" >&2
  exit 1
}
size_tool=$(tool llvm-size arm-none-eabi-size rust-size llvm-size-19 llvm-size-16 llvm-size-14)
nm_tool=$(tool llvm-nm arm-none-eabi-nm rust-nm llvm-nm-19 llvm-nm-16 llvm-nm-14)

target_dir=${CARGO_TARGET_DIR:-$PWD/target}/footprint
fail=0
for config in "${CONFIGS[@]}"; do
  label=${config%%|*}
  features=${config#*|}
  cargo build --quiet --manifest-path footprint/Cargo.toml --target thumbv7em-none-eabihf \
    --profile size --target-dir "$target_dir" --features "$features"
  elf=$target_dir/thumbv7em-none-eabihf/size/sscard-footprint

  read -r text rodata data < <("$size_tool" -A "$elf" | awk '
    $1 == ".text" { t = $2 } $1 == ".rodata" { r = $2 } $1 == ".data" { d = $2 }
    END { print t + 0, r + 0, d + 0 }')
  flash=$((text + rodata + data))
  printf 'flash  %-16s %7d bytes (%s KiB: .text %d, .rodata %d, .data %d); budget %d, %d left\n' \
    "$label" "$flash" "$(awk "BEGIN { printf \"%.1f\", $flash / 1024 }")" "$text" "$rodata" \
    "$data" "$flash_budget" $((flash_budget - flash))
  if [ "$flash" -gt "$flash_budget" ]; then
    echo "footprint: flash of $label over budget" >&2
    fail=1
  fi
  # Where it goes: code and constants by crate, from the symbols' mangled names.
  "$nm_tool" -S "$elf" | python3 -c '
import collections, re, sys
by = collections.Counter()
for line in sys.stdin:
    f = line.split()
    if len(f) != 4 or f[2] not in "tTrRdD" or f[3] == "SSCARD_CARD_RAM":
        continue
    sym, name = f[3], "other (_start, mem*, ...)"
    v0 = re.match(r"_R\w*?C(?:s\w*?_)?(\d+)", sym)  # v0 mangling: the first crate root
    m = re.match(r"_ZN(\d+)", sym)
    if v0:
        name = sym[v0.end():v0.end() + int(v0.group(1))]
    elif m:
        ident = sym[m.end():m.end() + int(m.group(1))]
        if ident.startswith("_$LT$"):  # <Type as Trait>: the crate of Type
            ident = re.sub(r"^(\$[A-Za-z0-9]+\$)+", "", ident[5:]).split("..")[0]
        name = re.split(r"[.$]", ident)[0] or "other"
    by[name] += int(f[1], 16)
print("       by crate: " + ", ".join(f"{k} {v / 1024:.1f} KiB" for k, v in by.most_common(8)))
'

  card=$("$nm_tool" -S "$elf" | awk '$4 == "SSCARD_CARD_RAM" { print $2 }')
  card=$((16#$card))
  printf 'RAM    %-16s %7d bytes per Card on thumbv7em (transient state + commit buffer); budget %d\n' \
    "$label" "$card" "$ram_budget"
  if [ "$card" -gt "$ram_budget" ]; then
    echo "footprint: RAM of a Card ($label) over budget" >&2
    fail=1
  fi
done

# The NVM image (host code: the personalizer).
if ! image=$(cargo test --quiet --test footprint -- --nocapture 2>&1); then
  echo "$image" >&2
  fail=1
fi
grep '^default gen-3 image' <<<"$image" | sed 's/^/NVM    /'

exit "$fail"
