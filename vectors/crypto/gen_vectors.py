#!/usr/bin/env python3
"""Independent generator of known-answer vectors for sscard-core's crypto module.

Everything here is written from the specification text (LD/T 32 parts 4, 7 and 9,
JR/T 0025 / EMV Book 2, ISO/IEC 9797-1, GB/T 32918), NOT from the Rust code. The
block ciphers come from third-party Python libraries:

* DES / 2-key 3DES-EDE: pycryptodome (``Crypto.Cipher.DES`` / ``DES3``);
* SM4, SM3, SM2 curve arithmetic: gmssl (``gmssl.sm4`` / ``gmssl.sm3`` / ``gmssl.sm2``).

Usage:  pip install pycryptodome gmssl
        python3 vectors/crypto/gen_vectors.py > vectors/crypto/card_algorithms.txt

Output format (read by crates/sscard-core/tests/crypto_vectors.rs): one vector per
line, ``<kind> name=hex name=hex ...``; ``#`` starts a comment line; the empty byte
string is written as ``-``.
"""

import random
import sys

from Crypto.Cipher import DES, DES3
from gmssl import sm2 as gm_sm2
from gmssl import sm3 as gm_sm3
from gmssl import func as gm_func
from gmssl.sm4 import CryptSM4, SM4_ENCRYPT, SM4_DECRYPT

NO_PADDING = 99  # any value other than gmssl's PKCS7 (0) / ZERO (1)

# ---------------------------------------------------------------- primitives


def des_enc(key: bytes, block: bytes) -> bytes:
    assert len(key) == 8 and len(block) == 8
    return DES.new(key, DES.MODE_ECB).encrypt(block)


def tdes_enc(key: bytes, block: bytes) -> bytes:
    assert len(key) == 16 and len(block) == 8
    return DES3.new(key, DES3.MODE_ECB).encrypt(block)


def sm4_enc(key: bytes, block: bytes) -> bytes:
    assert len(key) == 16 and len(block) % 16 == 0
    c = CryptSM4(SM4_ENCRYPT, padding_mode=NO_PADDING)
    c.set_key(key, SM4_ENCRYPT)
    return c.crypt_ecb(block)


def sm4_dec(key: bytes, block: bytes) -> bytes:
    c = CryptSM4(SM4_DECRYPT, padding_mode=NO_PADDING)
    c.set_key(key, SM4_DECRYPT)
    return c.crypt_ecb(block)


def sm3(data: bytes) -> bytes:
    return bytes.fromhex(gm_sm3.sm3_hash(gm_func.bytes_to_list(data)))


ALG_DES = 0x01  # 8-byte block: DES (8-byte key) or 3DES-EDE (16-byte key)
ALG_SM4 = 0x03  # 16-byte block


def block_len(alg: int) -> int:
    return 8 if alg == ALG_DES else 16


def encrypt(alg: int, key: bytes, block: bytes) -> bytes:
    """E(K, block) for the card's algorithm id and key length."""
    if alg == ALG_DES:
        return des_enc(key, block) if len(key) == 8 else tdes_enc(key, block)
    return sm4_enc(key, block)


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b))


def self_test():
    # FIPS 46 / classic worked example
    assert des_enc(bytes.fromhex("133457799BBCDFF1"), bytes.fromhex("0123456789ABCDEF")) == bytes.fromhex(
        "85E813540F0AB405")
    # GB/T 32907 example 1
    k = bytes.fromhex("0123456789abcdeffedcba9876543210")
    assert sm4_enc(k, k) == bytes.fromhex("681edf34d206965e86b3e94f536e4246")
    assert sm4_dec(k, bytes.fromhex("681edf34d206965e86b3e94f536e4246")) == k
    # GB/T 32905 example 1
    assert sm3(b"abc") == bytes.fromhex("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    # pyemv: IMK KCV 08D7, UDK (PAN 12345678901234567, PSN 45) KCV FF08
    imk = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    assert kcv(ALG_DES, imk)[:2] == bytes.fromhex("08D7")
    assert kcv(ALG_DES, udk_option_a(imk, "12345678901234567", "45"))[:2] == bytes.fromhex("FF08")
    # GB/T 32918 / GM/T 0003 recommended-curve signature example (ID 1234567812345678)
    d = int("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8", 16)
    k = int("59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21", 16)
    pub, sig = sm2_sign(d, SM2_DEFAULT_ID, b"message digest", k)
    assert pub.upper() == ("09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
                           "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
    assert sig.upper() == ("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
                           "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA")


# ------------------------------------------------ social-security card (LD/T 32)


def session_key(alg: int, key: bytes, inp: bytes) -> bytes:
    """P4 §8.4: 8-byte alg: input padded to 8, DES/3DES -> 8-byte key; 16-byte: SM4(K, in||00..)."""
    n = block_len(alg)
    assert len(inp) in (4, 8, 16) and len(inp) <= n
    return encrypt(alg, key, inp + bytes(n - len(inp)))


def auth_data(alg: int, sk: bytes, p: bytes) -> bytes:
    """P4 §9.3."""
    if alg == ALG_DES:
        return encrypt(alg, sk, p)
    t = encrypt(alg, sk, p + bytes(8))
    return xor(t[:8], t[8:])


def iso_pad2(data: bytes, n: int) -> bytes:
    """ISO/IEC 9797-1 padding method 2: always 80, then 00 up to a multiple of n."""
    data = data + b"\x80"
    while len(data) % n:
        data += b"\x00"
    return data


def ssc_mac(alg: int, key: bytes, iv: bytes, data: bytes) -> bytes:
    """P4 §8.2.4: CBC over padded data; 8-byte: leftmost 4; 16-byte: XOR of the 4 words."""
    n = block_len(alg)
    iv = iv + bytes(n - len(iv))
    d = iso_pad2(data, n)
    state = iv
    for i in range(0, len(d), n):
        state = encrypt(alg, key, xor(state, d[i:i + n]))
    if n == 8:
        return state[:4]
    out = bytes(4)
    for i in range(0, 16, 4):
        out = xor(out, state[i:i + 4])
    return out


def tac_key(alg: int, dtk: bytes) -> bytes:
    """P7 §15."""
    if alg == ALG_DES:
        return xor(dtk[:8], dtk[8:])
    return dtk


def sm_encrypt(alg: int, key: bytes, plain: bytes) -> bytes:
    """P4 §8.3: LD || data, pad 80 00.. only when not aligned, ECB."""
    n = block_len(alg)
    d = bytes([len(plain)]) + plain
    if len(d) % n:
        d = d + b"\x80"
        while len(d) % n:
            d += b"\x00"
    return b"".join(encrypt(alg, key, d[i:i + n]) for i in range(0, len(d), n))


def diversify(alg: int, key: bytes, f: bytes) -> bytes:
    """P9 §7.1.1 / §7.2.1."""
    notf = bytes(b ^ 0xFF for b in f)
    if alg == ALG_DES:
        if len(key) == 8:
            return des_enc(key, f)
        return tdes_enc(key, f) + tdes_enc(key, notf)
    return sm4_enc(key, f + notf)


def city_factor(area: str) -> bytes:
    return area.encode("ascii") + b"\x73\x78"


def province_factor(area: str) -> bytes:
    return area[:2].encode("ascii") + b"\x30\x30\x30\x30\x73\x68"


def card_factor(hist: bytes) -> bytes:
    return hist[5:13]  # historical bytes 6..13, 1-based


# ------------------------------------------------------------ EMV / PBOC


def odd_parity(key: bytes) -> bytes:
    out = bytearray()
    for b in key:
        b &= 0xFE
        if bin(b).count("1") % 2 == 0:
            b |= 1
        out.append(b)
    return bytes(out)


def udk_option_a(imk: bytes, pan: str, psn: str) -> bytes:
    digits = (pan + psn)[-16:].rjust(16, "0")
    d = bytes.fromhex(digits)
    return odd_parity(tdes_enc(imk, d) + tdes_enc(imk, bytes(b ^ 0xFF for b in d)))


def pboc_session_key(udk: bytes, atc: int) -> bytes:
    return tdes_enc(udk, bytes(6) + atc.to_bytes(2, "big")) + tdes_enc(udk, bytes(6) + (atc ^ 0xFFFF).to_bytes(2, "big"))


def retail_mac(key: bytes, iv: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3, padding method 2."""
    kl, kr = key[:8], key[8:]
    d = iso_pad2(data, 8)
    state = iv
    for i in range(0, len(d), 8):
        state = des_enc(kl, xor(state, d[i:i + 8]))
    state = DES.new(kr, DES.MODE_ECB).decrypt(state)
    return des_enc(kl, state)


def arpc_method1(sk: bytes, arqc: bytes, arc: bytes) -> bytes:
    return tdes_enc(sk, xor(arqc, arc + bytes(6)))


def kcv(alg: int, key: bytes) -> bytes:
    return encrypt(alg, key, bytes(block_len(alg)))[:3]


# ------------------------------------------------------------------- SM2

SM2_DEFAULT_ID = b"1234567812345678"
CURVE = gm_sm2.default_ecc_table


def sm2_public(d: int) -> str:
    signer = gm_sm2.CryptSM2(private_key="%064x" % d, public_key="")
    return signer._kg(d, CURVE["g"])  # 128 hex chars X||Y


def sm2_za(uid: bytes, pub_hex: str) -> bytes:
    entl = (len(uid) * 8).to_bytes(2, "big")
    z = entl + uid + bytes.fromhex(CURVE["a"] + CURVE["b"] + CURVE["g"] + pub_hex)
    return sm3(z)


def sm2_sign(d: int, uid: bytes, msg: bytes, k: int):
    pub = sm2_public(d)
    e = sm3(sm2_za(uid, pub) + msg)
    signer = gm_sm2.CryptSM2(private_key="%064x" % d, public_key=pub)
    sig = signer.sign(e, "%064x" % k)
    assert sig is not None
    assert signer.verify(sig, e)
    return pub, sig


# ------------------------------------------------------------------ output

rng = random.Random(20261129)


def rb(n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def tdes_key() -> bytes:
    while True:
        k = rb(16)
        if k[:8] != k[8:]:
            return k


def h(b: bytes) -> str:
    return b.hex().upper() if b else "-"


def emit(kind: str, **fields):
    print(kind + " " + " ".join("%s=%s" % (k, v if isinstance(v, str) else h(v)) for k, v in fields.items()))


def main():
    self_test()
    print("# Generated by vectors/crypto/gen_vectors.py (pycryptodome DES/3DES, gmssl SM3/SM4/SM2).")
    print("# Do not edit by hand. Format: <kind> name=hex ...; '-' = empty.")

    print("# session_key: alg id, parent key, session input (P4 §8.4)")
    for alg, klen in ((ALG_DES, 8), (ALG_DES, 16), (ALG_SM4, 16)):
        for ilen in ((4, 8) if alg == ALG_DES else (4, 8, 16)):
            for _ in range(2):
                key = tdes_key() if klen == 16 and alg == ALG_DES else rb(klen)
                inp = rb(ilen)
                emit("session_key", alg="%02X" % alg, key=key, input=inp, out=session_key(alg, key, inp))

    print("# auth_data: alg id, session key, P (P4 §9.3); internal_auth: key, R1 (session input), R2 (P)")
    for alg, klen in ((ALG_DES, 8), (ALG_SM4, 16)):
        for _ in range(3):
            sk, p = rb(klen), rb(8)
            emit("auth_data", alg="%02X" % alg, sk=sk, p=p, out=auth_data(alg, sk, p))
    for alg, klen in ((ALG_DES, 8), (ALG_DES, 16), (ALG_SM4, 16)):
        for _ in range(2):
            key = tdes_key() if klen == 16 and alg == ALG_DES else rb(klen)
            r1, r2 = rb(8), rb(8)
            emit("internal_auth", alg="%02X" % alg, key=key, r1=r1, r2=r2,
                 out=auth_data(alg, session_key(alg, key, r1), r2))

    print("# ssc_mac: alg id, key, IV (right-padded with 00 to the block), data (P4 §8.2.4)")
    for alg, klen in ((ALG_DES, 8), (ALG_DES, 16), (ALG_SM4, 16)):
        n = block_len(alg)
        for dlen in (0, 1, 4, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 47, 64, 100):
            key = tdes_key() if klen == 16 and alg == ALG_DES else rb(klen)
            iv = b"" if dlen % 3 else rb(rng.choice((4, n)))
            data = rb(dlen)
            emit("ssc_mac", alg="%02X" % alg, key=key, iv=iv, data=data, out=ssc_mac(alg, key, iv, data))

    print("# secure_messaging: MAC session key from challenge, MAC over header||data (P4 §8.2)")
    for alg, klen in ((ALG_DES, 16), (ALG_SM4, 16)):
        for _ in range(2):
            key = tdes_key() if alg == ALG_DES else rb(klen)
            chal = rb(rng.choice((4, 8)))
            header = bytes.fromhex("8424000114") if alg == ALG_SM4 else bytes.fromhex("842400010C")
            data = rb(16 if alg == ALG_SM4 else 8)
            sk = session_key(alg, key, chal)
            emit("sm_mac", alg="%02X" % alg, key=key, challenge=chal, header=header, data=data,
                 sk=sk, out=ssc_mac(alg, sk, b"", header + data))

    print("# sm_encrypt: alg id, key, plaintext, ciphertext (P4 §8.3)")
    for alg, klen in ((ALG_DES, 8), (ALG_DES, 16), (ALG_SM4, 16)):
        for plen in (0, 1, 3, 6, 7, 8, 14, 15, 16, 17, 31, 40):
            key = tdes_key() if klen == 16 and alg == ALG_DES else rb(klen)
            pt = rb(plen)
            emit("sm_encrypt", alg="%02X" % alg, key=key, plain=pt, cipher=sm_encrypt(alg, key, pt))

    print("# diversify: alg id, parent key, factor, child key (P9 §7.1.1, §7.2.1)")
    for alg, klen in ((ALG_DES, 8), (ALG_DES, 16), (ALG_SM4, 16)):
        for _ in range(3):
            key = tdes_key() if klen == 16 and alg == ALG_DES else rb(klen)
            f = rb(8)
            emit("diversify", alg="%02X" % alg, key=key, factor=f, out=diversify(alg, key, f))
    print("# diversify_chain: root key -> province -> city -> card factors (P9 §7.3)")
    for alg in (ALG_DES, ALG_SM4):
        root = tdes_key() if alg == ALG_DES else rb(16)
        area = "%06d" % rng.randrange(110000, 660000)
        hist = rb(15)
        pf, cf, kf = province_factor(area), city_factor(area), card_factor(hist)
        out = diversify(alg, diversify(alg, diversify(alg, root, pf), cf), kf)
        emit("diversify_chain", alg="%02X" % alg, key=root, area=area.encode(), hist=hist,
             province=pf, city=cf, card=kf, out=out)

    print("# tac: alg id, DTK, TAC key, data, TAC (P7 §15: TAC = MAC algorithm, IV 0, no session key)")
    for alg in (ALG_DES, ALG_SM4):
        for dlen in (13, 23, 24):
            dtk = tdes_key() if alg == ALG_DES else rb(16)
            data = rb(dlen)
            k = tac_key(alg, dtk)
            emit("tac", alg="%02X" % alg, dtk=dtk, key=k, data=data, out=ssc_mac(alg, k, b"", data))

    print("# kcv: alg id, key, first 3 bytes of E(K, 00..)")
    for alg, klen in ((ALG_DES, 8), (ALG_DES, 16), (ALG_SM4, 16)):
        key = tdes_key() if klen == 16 and alg == ALG_DES else rb(klen)
        emit("kcv", alg="%02X" % alg, key=key, out=kcv(alg, key))

    print("# udk: IMK, PAN (ASCII digits), PSN (BCD byte), UDK (EMV Option A, odd parity)")
    emit("udk", imk=bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"), pan=b"12345678901234567", psn="45",
         out=udk_option_a(bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"), "12345678901234567", "45"))
    for plen in (12, 13, 15, 16, 19):
        imk = tdes_key()
        pan = "".join(rng.choice("0123456789") for _ in range(plen))
        psn = "%02d" % rng.randrange(100)
        emit("udk", imk=imk, pan=pan.encode(), psn=psn, out=udk_option_a(imk, pan, psn))

    print("# pboc_sk: UDK, ATC (2 bytes), session key (JR/T 0025, CVN 01)")
    for atc in (0x0000, 0x0001, 0x001C, 0x1234, 0xFFFF):
        udk = tdes_key()
        emit("pboc_sk", udk=udk, atc=atc.to_bytes(2, "big"), out=pboc_session_key(udk, atc))

    print("# retail_mac: key (2-key), IV, data, MAC (ISO/IEC 9797-1 alg 3, padding 2)")
    for dlen in (0, 1, 7, 8, 9, 16, 20, 37, 64):
        key = tdes_key()
        iv = rb(8) if dlen % 2 else bytes(8)
        data = rb(dlen)
        emit("retail_mac", key=key, iv=iv, data=data, out=retail_mac(key, iv, data))

    print("# arpc: SK_AC, ARQC, ARC, ARPC (method 1)")
    for arc in (b"00", b"05", bytes.fromhex("3030")):
        sk = tdes_key()
        arqc = rb(8)
        emit("arpc", sk=sk, arqc=arqc, arc=arc, out=arpc_method1(sk, arqc, arc))

    print("# sm2: secret d, public X||Y, ID, message, signature r||s (gmssl arithmetic, chosen k)")
    for uid, msg in ((SM2_DEFAULT_ID, b"message digest"), (b"ALICE123@YAHOO.COM", b"sscard"),
                     (SM2_DEFAULT_ID, rb(100)), (b"", b"empty id")):
        while True:
            d = int.from_bytes(rb(32), "big")
            if 1 <= d <= int(CURVE["n"], 16) - 2:
                break
        k = int.from_bytes(rb(32), "big") % int(CURVE["n"], 16)
        pub, sig = sm2_sign(d, uid, msg, k)
        emit("sm2", d="%064X" % d, pub=pub.upper(), id=uid, msg=msg, sig=sig.upper())


if __name__ == "__main__":
    sys.exit(main())
