#!/usr/bin/env bash
# scripts/setup.sh — installs what `scripts/test` needs and a fresh Debian machine lacks:
# the rustup components and the thumbv7em target, pcscd + vpcd (scripts/pcscd.sh install),
# g++ (libFuzzer), cargo-fuzz, libssl-dev + the openssl CLI, an ARM size/nm, python3-venv
# and Python's gmssl. Already present: skipped. Without root (and without password-less
# sudo) it installs nothing and names what is missing, one line each, then fails.
# `scripts/test` runs it first; `.ci/run` runs `scripts/test`.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[setup] $*" >&2; }
can_root() { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
missing=()

if ! command -v cargo >/dev/null || ! command -v rustup >/dev/null; then
  log "missing: a Rust toolchain installed with rustup (https://rustup.rs)"
  exit 1
fi

# Components and the embedded target the checks use (rustup needs no root).
installed_components=$(rustup component list --installed)
for component in rustfmt clippy; do
  if ! grep -q "^$component" <<<"$installed_components"; then
    log "adding rustup component $component"
    rustup component add "$component"
  fi
done
if ! rustup target list --installed | grep -qx thumbv7em-none-eabihf; then
  log "adding target thumbv7em-none-eabihf"
  rustup target add thumbv7em-none-eabihf
fi

# Debian packages: pcscd, vpcd, libpcsclite-dev, pkg-config and the PC/SC clients
# (scripts/pcscd.sh lists them); g++ for libFuzzer; OpenSSL 3's headers (the crypto
# benches compare with OpenSSL; dev-dependencies, so `cargo test` builds them) and its CLI
# (tests/rsa_oda.rs signs the expected certificates with it); an ARM size/nm for
# scripts/footprint.sh; python3-venv for the Python package (scripts/python.sh).
packages=()
for p in $(bash scripts/pcscd.sh packages); do
  dpkg -s "$p" >/dev/null 2>&1 || packages+=("$p")
done
command -v c++ >/dev/null || packages+=(g++)
dpkg -s libssl-dev >/dev/null 2>&1 || packages+=(libssl-dev)
command -v openssl >/dev/null || packages+=(openssl)
if ! command -v llvm-size >/dev/null && ! command -v arm-none-eabi-size >/dev/null; then
  packages+=(binutils-arm-none-eabi)
fi
dpkg -s python3-venv >/dev/null 2>&1 || packages+=(python3-venv)
python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)
if [ "${#packages[@]}" -gt 0 ]; then
  if can_root; then
    log "installing ${packages[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
  else
    for p in "${packages[@]}"; do missing+=("Debian package $p (apt-get install $p)"); done
  fi
fi

# cargo-fuzz: scripts/test runs every fuzz target briefly (libFuzzer needs g++).
if ! cargo fuzz --version >/dev/null 2>&1; then
  if command -v c++ >/dev/null; then
    log "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
  else
    missing+=("cargo-fuzz (cargo install --locked cargo-fuzz, after g++)")
  fi
fi

# Python's gmssl: the independent SM2 implementation that checks the card's signatures.
# (Debian's own python3 is "externally managed": pip needs --break-system-packages there.)
if ! python3 -c 'import gmssl' 2>/dev/null; then
  if python3 -m pip --version >/dev/null 2>&1; then
    log "installing gmssl (PyPI)"
    python3 -m pip install --quiet gmssl 2>/dev/null ||
      python3 -m pip install --quiet --break-system-packages gmssl
  else
    missing+=("Python's gmssl (python3 -m pip install gmssl)")
  fi
fi

if [ "${#missing[@]}" -gt 0 ]; then
  log "cannot install without root; missing:"
  for m in "${missing[@]}"; do echo "  $m" >&2; done
  exit 1
fi
