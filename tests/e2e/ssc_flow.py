#!/usr/bin/python3
"""An independent terminal (pyscard, Debian's python3-pyscard) running the
social-security iReadCardBas-like flow against the card in a PC/SC reader:
SELECT SSSE + GET RESPONSE, READ RECORD by SFI (Le=00 and exact Le), INTERNAL AUTHENTICATE
+ GET RESPONSE, GET CHALLENGE, EF06 protected by RKSSSE, PIN try query.
No crypto is computed here: status words, lengths and record identifiers are checked.

usage: /usr/bin/python3 ssc_flow.py "Virtual PCD 00 00"
"""
import os
import sys

from smartcard.System import readers

SSSE = [0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF]


def main(reader_name):
    matching = [r for r in readers() if str(r) == reader_name]
    if not matching:
        sys.exit("no reader %r among %r" % (reader_name, [str(r) for r in readers()]))
    conn = matching[0].createConnection()
    conn.connect()
    atr = conn.getATR()

    def tx(apdu, want=None):
        data, sw1, sw2 = conn.transmit(apdu)
        sw = (sw1 << 8) | sw2
        if want is not None and sw != want and not (want == 0x6C00 and sw1 == 0x6C):
            sys.exit("%s -> %04X, expected %04X" % (bytes(apdu).hex().upper(), sw, want))
        return bytes(data), sw

    assert atr[:2] == [0x3B, 0x6D], "ATR %r" % atr
    hist = atr[4:]
    # SELECT SSSE: T=0 answers 61 1E, the FCI comes with GET RESPONSE.
    _, sw = tx([0x00, 0xA4, 0x04, 0x00, len(SSSE)] + SSSE + [0x00], 0x611E)
    fci, _ = tx([0x00, 0xC0, 0x00, 0x00, sw & 0xFF], 0x9000)
    assert fci[0] == 0x6F and len(fci) == 30, fci.hex()
    alg = fci[fci.index(bytes([0x9F, 0x0C, 0x03, 0x86, 0x01])) + 5]
    assert alg == 0x03, "algorithm %02X (SM4 expected)" % alg

    def read(sfi, tag):
        # Le=00 -> the whole record and 9000, as the cards in the field answer; the same
        # record again with its exact length.
        rec, _ = tx([0x00, 0xB2, tag, sfi << 3, 0x00], 0x9000)
        assert rec[0] == tag and rec[1] == len(rec) - 2, rec.hex()
        again, _ = tx([0x00, 0xB2, tag, sfi << 3, len(rec)], 0x9000)
        assert again == rec, (again.hex(), rec.hex())
        return rec[2:]

    card_id = read(5, 0x01)
    version = read(5, 0x03).decode()
    number = read(5, 0x07).decode()
    assert len(card_id) == 16 and version.startswith("3."), (card_id.hex(), version)

    # INTERNAL AUTHENTICATE: 16 bytes in, 8 bytes of authentication data out (via 61 08).
    _, sw = tx([0x00, 0x88, 0x00, 0x00, 0x10] + list(os.urandom(16)) + [0x00], 0x6108)
    auth, _ = tx([0x00, 0xC0, 0x00, 0x00, 0x08], 0x9000)
    assert len(auth) == 8

    # Gen 3: EF06 needs RKSSSE external authentication first.
    tx([0x00, 0xB2, 0x08, 0x30, 0x00], 0x6982)
    challenge, _ = tx([0x00, 0x84, 0x00, 0x00, 0x08], 0x9000)
    assert len(challenge) == 8
    _, pin_sw = tx([0x00, 0x20, 0x00, 0x00])
    assert pin_sw & 0xFFF0 == 0x63C0, "PIN query %04X" % pin_sw
    conn.disconnect()
    print("pyscard ssc flow OK: ATR %s, card id %s, spec %s, card no %s, alg %02X, "
          "auth data %d bytes, EF06 6982, PIN tries %d"
          % (bytes(atr).hex().upper(), card_id.hex().upper(), version, number, alg,
             len(auth), pin_sw & 0x0F))
    print("reset info", bytes(hist).hex().upper())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Virtual PCD 00 00")
