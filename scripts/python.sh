#!/usr/bin/env bash
# scripts/python.sh — the Python package (bindings/python): clippy on its pyo3 crate, a
# virtualenv (target/python-venv) with maturin and pytest from PyPI, the package built
# into it with `maturin develop`, and its pytest suite. Run by scripts/test.
#
# The virtualenv is made from Debian's /usr/bin/python3 with --system-site-packages when
# there is one, so the pyscard-compatibility tests also run against Debian's pyscard
# (python3-pyscard, which `scripts/pcscd.sh install` brings); SSCARD_PYTHON overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
# The bindings are a workspace of their own: their own target directory too.
export CARGO_TARGET_DIR=$target/python
manifest=bindings/python/Cargo.toml

python=${SSCARD_PYTHON:-}
if [ -z "$python" ]; then
  if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python=python3; fi
fi
venv=$target/python-venv
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv --system-site-packages "$venv"
fi
if ! "$venv/bin/python" -c 'import pytest' 2>/dev/null || [ ! -x "$venv/bin/maturin" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check maturin pytest
fi

cargo fmt --manifest-path $manifest -- --check
PYO3_PYTHON=$venv/bin/python cargo clippy --quiet --manifest-path $manifest --all-targets \
  -- -D warnings
VIRTUAL_ENV=$venv PATH=$venv/bin:$PATH maturin develop --quiet --manifest-path $manifest
(cd bindings/python && "$venv/bin/python" -m pytest -q -rs tests)
