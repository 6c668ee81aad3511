#!/usr/bin/env python3
"""Independent SM2 signature check for the sscard tests (GB/T 32918, gmssl from PyPI).

stdin: one line per signature, "<public X‖Y hex> <message hex> <r‖s hex>"; the signer's
distinguishing ID is the default 1234567812345678. Prints "ok" or "bad" per line and
exits 1 if any signature fails (2 if gmssl is missing).
"""
import sys

try:
    from gmssl import sm2
except ImportError:
    print("gmssl not installed (pip install gmssl)", file=sys.stderr)
    sys.exit(2)

failed = False
for line in sys.stdin:
    if not line.strip():
        continue
    pub, msg, sig = line.split()
    signer = sm2.CryptSM2(private_key=None, public_key="00")
    signer.public_key = pub.lower()  # set directly: the constructor strips leading '0'/'4' digits
    e = signer._sm3_z(bytes.fromhex(msg))  # SM3(Z_A ‖ M) with the default ID
    good = signer.verify(sig.lower(), bytes.fromhex(e))
    print("ok" if good else "bad")
    failed |= not good
sys.exit(1 if failed else 0)
