"""APDU round trip from Python: the in-process card (sscard.Card.transmit, and through the
pyscard-compatible connection) vs the same APDU over PC/SC with pyscard (pcscd + vpcd +
`sscard run`), measured in one run, alternating blocks. Run by benches/ffi_roundtrip.sh.

usage: python roundtrip.py N [READER]
"""
import statistics
import sys
import time

from smartcard.System import readers as pcsc_readers

import sscard
import sscard.pyscard

BLOCK = 100
SELECT_SSSE = list(bytes.fromhex("00A4040C0F7378312E73682EC9E7BBE1B1A3D5CF"))
WORKLOADS = [
    ("READ RECORD EF05/1 (00B2012C12)", "00B2012C12"),
    ("VERIFY query (0020000000)", "00200000"),
    ("SELECT MF (00A4000C023F00)", "00A4000C023F00"),
]


def connect_pcsc(name):
    for _ in range(100):
        matching = [r for r in pcsc_readers() if str(r) == name]
        if matching:
            connection = matching[0].createConnection()
            try:
                connection.connect()
                return connection
            except Exception:
                pass
        time.sleep(0.1)
    sys.exit("no card in PC/SC reader %r" % name)


def main(n, reader):
    blocks = max(1, n // BLOCK)
    card = sscard.Card()
    compat = sscard.pyscard.Reader(sscard.Card(), name="bench").createConnection()
    compat.connect()
    pcsc = connect_pcsc(reader)
    assert card.transmit(bytes(SELECT_SSSE))[1] == 0x9000
    assert compat.transmit(SELECT_SSSE)[1:] == (0x90, 0x00)
    assert pcsc.transmit(SELECT_SSSE)[1:] == (0x90, 0x00)
    print("Python: %d APDUs per path per workload, blocks of %d, alternating" % (blocks * BLOCK, BLOCK))
    print("%-34s %12s %12s %12s %14s %14s" % (
        "workload", "Card", "pyscard-like", "PC/SC", "Card/PC/SC", "compat/PC/SC"))
    for name, hex_apdu in WORKLOADS:
        apdu_bytes = bytes.fromhex(hex_apdu)
        apdu_list = list(apdu_bytes)
        data, sw = card.transmit(apdu_bytes)
        want = (list(data), sw >> 8, sw & 0xFF)
        assert compat.transmit(apdu_list) == want, name
        assert pcsc.transmit(apdu_list) == want, name
        for _ in range(200):
            card.transmit(apdu_bytes)
            compat.transmit(apdu_list)
            pcsc.transmit(apdu_list)
        local, through_compat, remote = [], [], []
        transmit = card.transmit
        for _ in range(blocks):
            t0 = time.perf_counter_ns()
            for _ in range(BLOCK):
                transmit(apdu_bytes)
            t1 = time.perf_counter_ns()
            for _ in range(BLOCK):
                compat.transmit(apdu_list)
            t2 = time.perf_counter_ns()
            for _ in range(BLOCK):
                pcsc.transmit(apdu_list)
            t3 = time.perf_counter_ns()
            local.append((t1 - t0) / BLOCK)
            through_compat.append((t2 - t1) / BLOCK)
            remote.append((t3 - t2) / BLOCK)
        l, c, r = (statistics.median(x) for x in (local, through_compat, remote))
        print("%-34s %9.3f us %9.3f us %9.1f us %14.5f %14.5f  (PC/SC %.0fx / %.0fx slower)" % (
            name, l / 1e3, c / 1e3, r / 1e3, l / r, c / r, r / l, r / c))
    pcsc.disconnect()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000,
         sys.argv[2] if len(sys.argv) > 2 else "Virtual PCD 00 00")
