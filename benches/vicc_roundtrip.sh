#!/usr/bin/env bash
# benches/vicc_roundtrip.sh [N] — per-APDU round trip through pcscd + vpcd for the sscard
# card and for vsmartcard's Python card (vicc, `-t iso7816`), side by side in one run.
#
# Both cards get the same socket fix: TCP_QUICKACK re-armed around every read (sscard does
# it in its vpcd client; vicc gets it from a sitecustomize.py that wraps socket.recv), so
# neither pays Debian vpcd's 40 ms delayed-ACK stall (spec: shared/spec/pcsc.md §0).
# sscard serves reader "Virtual PCD 00 00", vicc "Virtual PCD 00 01"; a pyscard client
# sends SELECT MF (00A4000C023F00, no FCI: Debian's vicc 3.3 crashes on FCI) to both, in
# alternating blocks, and prints median and p99 per card and the ratio vicc / sscard.
#
# Needs: pcscd + vpcd running (bash scripts/pcscd.sh start), and Debian's
# vsmartcard-vpicc python3-virtualsmartcard python3-pycryptodome python3-pyscard.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3000}

work=$(mktemp -d -t sscard-vicc.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Debian installs vicc's module off sys.path and it imports PyCrypto's `Crypto`, which
# Debian ships as `Cryptodome` (pcsc.md §1.3): a path and a symlink shim.
mkdir -p "$work/shim"
ln -s /usr/lib/python3/dist-packages/Cryptodome "$work/shim/Crypto"
cat >"$work/shim/sitecustomize.py" <<'EOF'
# The same socket fix sscard applies: TCP_QUICKACK before and after every recv (Linux
# clears it after use), so the vpcd driver's two-write messages are not held by Nagle.
import socket

_recv = socket.socket.recv

def _quickack(sock):
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    except OSError:
        pass

def recv(self, *args, **kwargs):
    _quickack(self)
    data = _recv(self, *args, **kwargs)
    _quickack(self)
    return data

socket.socket.recv = recv
EOF

cargo build --release --quiet --bin sscard
./target/release/sscard run --slot 0 >"$work/sscard.log" 2>&1 &
pids+=($!)
PYTHONPATH=/usr/lib/python3/site-packages/virtualsmartcard:$work/shim \
  /usr/bin/python3 /usr/bin/vicc -t iso7816 -P 35964 >"$work/vicc.log" 2>&1 &
pids+=($!)

/usr/bin/python3 - "$n" <<'EOF'
import statistics, sys, time
from smartcard.scard import *

n = int(sys.argv[1])
readers = {"sscard": "Virtual PCD 00 00", "vicc": "Virtual PCD 00 01"}
rv, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
assert rv == 0, SCardGetErrorMessage(rv)

def wait_present(reader, timeout=15.0):
    state, t0 = SCARD_STATE_UNAWARE, time.time()
    while time.time() - t0 < timeout:
        rv, st = SCardGetStatusChange(ctx, 500, [(reader, state)])
        if rv == 0:
            state = st[0][1]
            if state & SCARD_STATE_PRESENT:
                return
    sys.exit("no card in %r" % reader)

cards = {}
for name, reader in readers.items():
    wait_present(reader)
    rv, card, proto = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
    assert rv == 0, SCardGetErrorMessage(rv)
    cards[name] = (card, SCARD_PCI_T0 if proto == SCARD_PROTOCOL_T0 else SCARD_PCI_T1)

apdu = [0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00]
samples = {name: [] for name in cards}
block = 100
for name, (card, pci) in cards.items():   # warm-up
    for _ in range(50):
        rv, resp = SCardTransmit(card, pci, apdu)
        assert rv == 0 and resp[-2:] == [0x90, 0x00], (name, rv, resp)
for _ in range(max(1, n // block)):
    for name, (card, pci) in cards.items():
        for _ in range(block):
            t = time.perf_counter_ns()
            rv, resp = SCardTransmit(card, pci, apdu)
            samples[name].append(time.perf_counter_ns() - t)
            assert rv == 0 and resp[-2:] == [0x90, 0x00], (name, rv, resp)

def p(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] / 1000

for name, v in samples.items():
    print("%-6s SELECT MF: n=%d median %.1f µs, p99 %.1f µs" % (name, len(v), p(v, 0.5), p(v, 0.99)))
print("vicc / sscard: median %.2f×, p99 %.2f×" % (
    p(samples["vicc"], 0.5) / p(samples["sscard"], 0.5),
    p(samples["vicc"], 0.99) / p(samples["sscard"], 0.99)))
EOF
