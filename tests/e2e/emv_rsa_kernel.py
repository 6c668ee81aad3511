#!/usr/bin/env python3
"""An independent, RSA-only EMV kernel for sscard's PBOC application.

It is written from EMV 4.x Book 2 (RSA offline data authentication) and Book 3, with none
of the card's code: RSA is Python's own integer arithmetic, SHA-1 is hashlib. It knows no SM
algorithm, so it never sends DF69 = 01 (its PDOL answers zeros for every tag it does not
know, as most kernels outside China do).

    emv_rsa_kernel.py --capk vectors/pboc/capk.toml --interface contact --reader "Virtual PCD 00 00"
    emv_rsa_kernel.py --capk ... --interface contactless --pipe     # APDUs on stdout, answers on stdin

With --pipe, every command is one hex line on stdout and the answer one hex line on stdin
(the Rust tests play the card that way). The last line on stdout is `RESULT {json}`:
TVR byte 1, what was verified and what failed.

Contact: SELECT the AID, GPO, READ RECORD the AFL, CAPK by RID and 8F, issuer certificate
90/92/9F32 (Book 2 §5.3, Table 6), ICC certificate 9F46/9F48/9F47 over the static data
(§6.4, Table 14), SDA 93 (§5.4, Table 7), DDA by INTERNAL AUTHENTICATE with the DDOL
(§6.5, Table 17), then GENERATE AC. Contactless (qPBOC): FF CA UID, PPSE, SELECT, GPO with
the TTQ asking for fDDA, the format 2 response's 9F4B verified over 9F37 ‖ 9F02 ‖ 5F2A ‖
9F69 (JR/T 0025.12), the chain as on contact.
"""

import argparse
import hashlib
import json
import sys
import tomllib

AMOUNT = bytes.fromhex("000000000100")  # 1.00
CNY = bytes.fromhex("0156")
DATE = bytes.fromhex("261207")  # YYMMDD of the test transaction
UN = bytes.fromhex("A1B2C3D4")


def log(*a):
    print(*a, file=sys.stderr)


# --- transport ------------------------------------------------------------------------------

class Pipe:
    def transmit(self, apdu):
        print(apdu.hex().upper(), flush=True)
        line = sys.stdin.readline().strip()
        return bytes.fromhex(line)


class Reader:
    def __init__(self, name):
        from smartcard.System import readers
        r = [x for x in readers() if name in str(x)]
        if not r:
            raise SystemExit(f"no reader {name!r}")
        self.conn = r[0].createConnection()
        self.conn.connect()

    def transmit(self, apdu):
        data, sw1, sw2 = self.conn.transmit(list(apdu))
        return bytes(data) + bytes([sw1, sw2])


class Card:
    """ISO 7816 transport rules a kernel applies: 61xx → GET RESPONSE, 6Cxx → resend."""

    def __init__(self, io):
        self.io = io

    def send(self, apdu):
        r = self.io.transmit(apdu)
        if len(r) < 2:
            raise RuntimeError(f"mute card after {apdu.hex()}")
        if r[-2] == 0x6C:
            r = self.io.transmit(apdu[:-1] + bytes([r[-1]]) if len(apdu) > 4 else apdu + bytes([r[-1]]))
        data = b""
        while r[-2] == 0x61:
            data += r[:-2]
            r = self.io.transmit(bytes([0x00, 0xC0, 0x00, 0x00, r[-1]]))
        data += r[:-2]
        return data, (r[-2] << 8) | r[-1]

    def ok(self, apdu):
        data, sw = self.send(apdu)
        if sw != 0x9000:
            raise RuntimeError(f"{apdu.hex().upper()} -> {sw:04X}")
        return data


def apdu(header, data, le=True):
    return bytes.fromhex(header) + bytes([len(data)]) + data + (b"\x00" if le else b"")


# --- BER-TLV --------------------------------------------------------------------------------

def read_tag(b, i):
    """The BER tag at b[i] (one byte, or more when its low five bits are all set) and the
    index after it."""
    tag = b[i]
    i += 1
    if tag & 0x1F == 0x1F:
        while True:
            tag = (tag << 8) | b[i]
            i += 1
            if not b[i - 1] & 0x80:
                break
    return tag, i


def tlvs(b):
    """Yields (tag, value, raw) over a BER-TLV string, recursing into constructed ones."""
    i = 0
    while i < len(b):
        if b[i] in (0x00, 0xFF):
            i += 1
            continue
        start = i
        tag, i = read_tag(b, i)
        n = b[i]
        i += 1
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(b[i:i + k], "big")
            i += k
        value = b[i:i + n]
        i += n
        yield tag, value, b[start:i]
        first = tag >> (8 * ((tag.bit_length() - 1) // 8))
        if first & 0x20:
            yield from tlvs(value)


def find(b, tag):
    for t, v, _ in tlvs(b):
        if t == tag:
            return v
    return None


def dol_entries(dol):
    i = 0
    while i < len(dol):
        tag, i = read_tag(dol, i)
        yield tag, dol[i]
        i += 1


def fill_dol(dol, values):
    out = b""
    for tag, n in dol_entries(dol):
        v = values.get(tag, b"")
        out += (v + bytes(n))[:n]
    return out


# --- RSA recovery (Book 2 Annex A2.1), Python's own arithmetic ----------------------------

class OdaError(Exception):
    pass


def recover(signature, modulus, exponent):
    if len(signature) != len(modulus):
        raise OdaError("signature length differs from the modulus length")
    x = int.from_bytes(signature, "big")
    n = int.from_bytes(modulus, "big")
    if x >= n:
        raise OdaError("signature not below the modulus")
    rec = pow(x, int.from_bytes(exponent, "big"), n).to_bytes(len(modulus), "big")
    if rec[0] != 0x6A or rec[-1] != 0xBC:
        raise OdaError(f"recovered data header/trailer {rec[0]:02X}/{rec[-1]:02X}")
    return rec


def check_hash(rec, *extra):
    data, digest = rec[1:-21], rec[-21:-1]
    h = hashlib.sha1(data + b"".join(extra)).digest()
    if h != digest:
        raise OdaError("hash mismatch")


def digits(b):
    s = b.hex().upper()
    return s.rstrip("F")


def check_expiry(mmyy):
    mm, yy = mmyy[0], mmyy[1]
    exp = (int(f"{yy:02X}"), int(f"{mm:02X}"))
    today = (int(DATE.hex()[:2]), int(DATE.hex()[2:4]))
    if exp < today:
        raise OdaError("certificate expired")


def load_capk(path, rid, index):
    with open(path, "rb") as f:
        data = tomllib.load(f)
    for k in data["capk"]:
        if bytes.fromhex(k["rid"]) == rid and bytes.fromhex(k["index"]) == bytes([index]):
            if k["algorithm"] != "rsa":
                raise OdaError(f"CAPK {index:02X} is not RSA")
            modulus = bytes.fromhex("".join(k["modulus"].split()))
            exponent = bytes.fromhex(k["exponent"])
            if "checksum" in k:
                chk = hashlib.sha1(rid + bytes([index]) + modulus + exponent).digest()
                if chk != bytes.fromhex(k["checksum"]):
                    raise OdaError("CAPK checksum mismatch")
            return modulus, exponent
    raise OdaError(f"no CAPK {rid.hex()}/{index:02X}")


def issuer_key(data, capk_path, rid):
    """Book 2 §5.3 / §6.3: the issuer public key from 90, 92, 9F32."""
    index, cert, exponent = find(data, 0x8F), find(data, 0x90), find(data, 0x9F32)
    if index is None or cert is None or exponent is None:
        raise OdaError("ICC data missing: 8F, 90 or 9F32")
    ca_mod, ca_exp = load_capk(capk_path, rid, index[0])
    rec = recover(cert, ca_mod, ca_exp)
    if rec[1] != 0x02 or rec[11] != 0x01 or rec[12] != 0x01:
        raise OdaError("issuer certificate format / algorithm indicators")
    remainder = find(data, 0x92) or b""
    check_hash(rec, remainder, exponent)
    issuer_id = digits(rec[2:6])
    pan = digits(find(data, 0x5A))
    if not (3 <= len(issuer_id) <= 8 and pan.startswith(issuer_id)):
        raise OdaError("issuer identifier does not match the PAN")
    check_expiry(rec[6:8])
    n_i, e_len = rec[13], rec[14]
    room = len(ca_mod) - 36
    modulus = rec[15:15 + min(n_i, room)] + (remainder if n_i > room else b"")
    if len(modulus) != n_i or len(exponent) != e_len:
        raise OdaError("issuer public key length")
    return modulus, exponent


def icc_key(data, issuer, static):
    """Book 2 §6.4: the ICC public key from 9F46, 9F48, 9F47 and the static data."""
    cert, exponent = find(data, 0x9F46), find(data, 0x9F47)
    if cert is None or exponent is None:
        raise OdaError("ICC data missing: 9F46 or 9F47")
    rec = recover(cert, *issuer)
    if rec[1] != 0x04 or rec[17] != 0x01 or rec[18] != 0x01:
        raise OdaError("ICC certificate format / algorithm indicators")
    remainder = find(data, 0x9F48) or b""
    check_hash(rec, remainder, exponent, static)
    if digits(rec[2:12]) != digits(find(data, 0x5A)):
        raise OdaError("ICC certificate PAN does not match 5A")
    check_expiry(rec[12:14])
    n_ic, e_len = rec[19], rec[20]
    room = len(issuer[0]) - 42
    modulus = rec[21:21 + min(n_ic, room)] + (remainder if n_ic > room else b"")
    if len(modulus) != n_ic or len(exponent) != e_len:
        raise OdaError("ICC public key length")
    return modulus, exponent


def verify_sda(data, issuer, static):
    """Book 2 §5.4: signed static application data 93."""
    ssad = find(data, 0x93)
    if ssad is None:
        raise OdaError("ICC data missing: 93")
    rec = recover(ssad, *issuer)
    if rec[1] != 0x03 or rec[2] != 0x01:
        raise OdaError("SSAD format")
    check_hash(rec, static)
    return rec[3:5].hex().upper()


def verify_sdad(sdad, icc, terminal_data):
    """Book 2 §6.5.2 / Table 17: signed dynamic application data."""
    rec = recover(sdad, *icc)
    if rec[1] != 0x05 or rec[2] != 0x01:
        raise OdaError("SDAD format")
    check_hash(rec, terminal_data)
    ldd = rec[3]
    return rec[4:4 + ldd].hex().upper()


def read_afl(card, afl, data_so_far):
    """READ RECORD of every AFL record; returns (all record data, static data)."""
    records, static = b"", b""
    for i in range(0, len(afl), 4):
        sfi, first, last, oda = afl[i] >> 3, afl[i + 1], afl[i + 2], afl[i + 3]
        for n in range(first, last + 1):
            r = card.ok(bytes([0x00, 0xB2, n, (sfi << 3) | 4, 0x00]))
            if r[0] != 0x70:
                raise RuntimeError(f"record {sfi}/{n} is not a 70 template")
            records += r
            if n < first + oda:
                static += find(r, 0x70) if sfi <= 10 else r
    return records, static


def static_data(records, static, aip):
    tag_list = find(records, 0x9F4A)
    if tag_list:
        if tag_list != b"\x82":
            raise OdaError("SDA tag list other than 82")
        static += aip
    return static


def contact(card, capk_path, result):
    aid = bytes.fromhex("A000000333010101")
    fci = card.ok(apdu("00A40400", aid))
    pdol = find(fci, 0x9F38) or b""
    values = {0x9F02: AMOUNT, 0x5F2A: CNY, 0x9F1A: CNY, 0x9A: DATE, 0x9F37: UN}
    pdol_data = fill_dol(pdol, values)
    result["pdol_tags"] = [f"{t:X}" for t, _ in dol_entries(pdol)]
    gpo = card.ok(apdu("80A80000", bytes([0x83, len(pdol_data)]) + pdol_data))
    if gpo[0] == 0x80:
        aip, afl = gpo[2:4], gpo[4:2 + gpo[1]]
    else:
        aip, afl = find(gpo, 0x82), find(gpo, 0x94)
    records, static = read_afl(card, afl, b"")
    static = static_data(records, static, aip)
    tvr1 = 0
    try:
        issuer = issuer_key(records, capk_path, aid[:5])
        result["issuer_modulus_bits"] = len(issuer[0]) * 8
        result["sda_dac"] = verify_sda(records, issuer, static)
        result["sda"] = "ok"
    except OdaError as e:
        result["sda"] = str(e)
        issuer = None
    if aip[0] & 0x20:
        try:
            if issuer is None:
                raise OdaError(result["sda"])
            icc = icc_key(records, issuer, static)
            result["icc_modulus_bits"] = len(icc[0]) * 8
            ddol = find(records, 0x9F49) or bytes.fromhex("9F3704")
            ddol_data = fill_dol(ddol, values)
            r = card.ok(apdu("00880000", ddol_data))
            sdad = find(r, 0x80) if r[0] == 0x80 else find(r, 0x9F4B)
            result["icc_dynamic_data"] = verify_sdad(sdad, icc, ddol_data)
            result["dda"] = "ok"
        except OdaError as e:
            result["dda"] = str(e)
            tvr1 |= 0x20 if "missing" in str(e) else 0
            tvr1 |= 0x08
    elif aip[0] & 0x40:
        tvr1 |= 0x02
        if result["sda"] != "ok":
            tvr1 |= 0x40 | (0x20 if "missing" in result["sda"] else 0)
    else:
        tvr1 |= 0x80
    result["tvr1"] = f"{tvr1:02X}"
    cdol1 = find(records, 0x8C)
    values[0x95] = bytes([tvr1, 0, 0, 0, 0])
    values[0x9C] = b"\x00"
    data = fill_dol(cdol1, values)
    ac = card.ok(apdu("80AE4000", data))
    result["cid"] = f"{ac[2]:02X}" if ac[0] == 0x80 else find(ac, 0x9F27).hex()


def contactless(card, capk_path, result):
    uid = card.ok(bytes.fromhex("FFCA000000"))
    result["uid"] = uid.hex().upper()
    ppse = card.ok(apdu("00A40400", b"2PAY.SYS.DDF01"))
    aid = find(ppse, 0x4F)
    fci = card.ok(apdu("00A40400", aid))
    pdol = find(fci, 0x9F38)
    # TTQ: qPBOC, contact chip, online PIN, signature; byte 4 b8 = fDDA version 01.
    values = {0x9F66: bytes.fromhex("36000080"), 0x9F02: AMOUNT, 0x5F2A: CNY, 0x9F1A: CNY,
              0x9A: DATE, 0x9F37: UN}
    pdol_data = fill_dol(pdol, values)
    result["pdol_tags"] = [f"{t:X}" for t, _ in dol_entries(pdol)]
    gpo = card.ok(apdu("80A80000", bytes([0x83, len(pdol_data)]) + pdol_data))
    body = find(gpo, 0x77)
    if body is None:
        raise RuntimeError("qPBOC GPO answered without format 2")
    result["cid"] = find(body, 0x9F27).hex().upper()
    aip, afl, sdad = find(body, 0x82), find(body, 0x94), find(body, 0x9F4B)
    tvr1 = 0
    if afl is None:
        result["tvr1"] = "80"
        return
    records, static = read_afl(card, afl, b"")
    static = static_data(records, static, aip)
    try:
        if sdad is None:
            raise OdaError("ICC data missing: 9F4B")
        issuer = issuer_key(records, capk_path, aid[:5])
        icc = icc_key(records, issuer, static)
        c9f69 = find(records, 0x9F69)
        terminal = UN + AMOUNT + CNY + (c9f69 or b"")
        result["icc_dynamic_data"] = verify_sdad(sdad, icc, terminal if c9f69 else UN)
        result["fdda"] = "ok" if c9f69 else "ok (fDDA 00)"
    except OdaError as e:
        result["fdda"] = str(e)
        tvr1 |= 0x08 | (0x20 if "missing" in str(e) else 0)
    result["tvr1"] = f"{tvr1:02X}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--capk", required=True)
    ap.add_argument("--interface", choices=["contact", "contactless"], required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--pipe", action="store_true")
    g.add_argument("--reader")
    args = ap.parse_args()
    card = Card(Pipe() if args.pipe else Reader(args.reader))
    result = {"interface": args.interface}
    try:
        (contact if args.interface == "contact" else contactless)(card, args.capk, result)
    except Exception as e:  # the report says what stopped the kernel
        result["error"] = f"{type(e).__name__}: {e}"
    print("RESULT " + json.dumps(result), flush=True)
    log(json.dumps(result))


if __name__ == "__main__":
    main()
