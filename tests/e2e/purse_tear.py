#!/usr/bin/python3
"""A pyscard terminal that loses the card in the middle of DEBIT FOR PURCHASE and
recovers the transaction with GET TRANSACTION PROOF (LD/T 32 P7 §12.4, §15), driving
sscard's test bench through its control socket (docs/control.md).

The card is served with `sscard run --control SOCKET` and a funded medical purse. The
terminal plays its PSAM too: it derives the purchase key from the test root key
(88…88) and computes MAC1 itself, with SM4 from `cryptography`.

  1. SELECT SSSE, SELECT DF04, VERIFY, INITIALIZE FOR PURCHASE of 30.00;
  2. arm the tear: {"cmd": "tear", "at_write": K} -- the next command that writes loses
     power at its K-th NVM write;
  3. DEBIT FOR PURCHASE: no answer, the reader reports the card gone;
  4. {"cmd": "insert"}; reconnect; SELECT, VERIFY;
  5. GET TRANSACTION PROOF for the purchase's sequence number: MAC2 || TAC means the
     debit happened (the money moved once), 9406 means it did not (the terminal may
     run the purchase again); GET BALANCE agrees either way.

usage: /usr/bin/python3 purse_tear.py "Virtual PCD 00 00" SOCKET K
Prints "pyscard purse tear OK: debited" or "... OK: not debited, purchase repeated".
"""
import json
import socket
import sys
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from smartcard.Exceptions import CardConnectionException, NoCardException
from smartcard.System import readers

SSSE = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
DF04 = bytes.fromhex("D15600000503")
PIN = bytes.fromhex("123456")
TERMINAL = bytes.fromhex("519900000001")
AREA = b"519900"
DPK_ROOT = bytes([0x88] * 16)
AMOUNT = 3000  # fen: 30.00 yuan
TIME = bytes.fromhex("20260320090000")


def sm4(key, block):
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def diversify(key, factor):
    """LD/T 32 P4: SM4 over the factor and its complement."""
    return sm4(key, factor + bytes(b ^ 0xFF for b in factor))


def mac(key, data):
    """ISO 9797-1 padding 2, CBC from a zero IV; the four words of the last block XORed."""
    data = data + b"\x80"
    data += bytes(-len(data) % 16)
    state = bytes(16)
    for i in range(0, len(data), 16):
        state = sm4(key, bytes(a ^ b for a, b in zip(state, data[i:i + 16])))
    return bytes(state[i] ^ state[i + 4] ^ state[i + 8] ^ state[i + 12] for i in range(4))


def control(path, **request):
    """One JSON-line request to the card's control socket."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        s.sendall((json.dumps(request) + "\n").encode())
        answer = json.loads(s.makefile().readline())
    if not answer.get("ok"):
        sys.exit("control %r: %r" % (request, answer))
    return answer


def connect(reader_name, timeout=15.0):
    """Connect as soon as the reader has a card."""
    deadline = time.monotonic() + timeout
    while True:
        matching = [r for r in readers() if str(r) == reader_name]
        if matching:
            conn = matching[0].createConnection()
            try:
                conn.connect()
                return conn
            except (NoCardException, CardConnectionException):
                pass
        if time.monotonic() > deadline:
            sys.exit("no card in %r" % reader_name)
        time.sleep(0.1)


def wait_absent(reader_name, timeout=15.0):
    """Wait until the reader reports no card, as a terminal notices a card pulled out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        matching = [r for r in readers() if str(r) == reader_name]
        try:
            conn = matching[0].createConnection()
            conn.connect()
            conn.disconnect()
        except NoCardException:
            return
        except CardConnectionException:
            pass
        time.sleep(0.1)
    sys.exit("the card stayed in %r" % reader_name)


class Terminal:
    def __init__(self, conn):
        self.conn = conn

    def tx(self, apdu, want=0x9000):
        data, sw1, sw2 = self.conn.transmit(list(apdu))
        if sw1 == 0x61:
            data, sw1, sw2 = self.conn.transmit([0x00, 0xC0, 0x00, 0x00, sw2])
        sw = (sw1 << 8) | sw2
        if want is not None and sw != want:
            sys.exit("%s -> %04X, expected %04X" % (bytes(apdu).hex().upper(), sw, want))
        return bytes(data), sw

    def open_purse(self):
        self.tx(b"\x00\xA4\x04\x0C" + bytes([len(SSSE)]) + SSSE)
        self.tx(b"\x00\xA4\x04\x0C" + bytes([len(DF04)]) + DF04)
        self.tx(b"\x00\x20\x00\x00" + bytes([len(PIN)]) + PIN)

    def balance(self):
        data, _ = self.tx(b"\xB0\x26\x00\x01\x04")
        return int.from_bytes(data, "big")

    def start_purchase(self, dpk, ttsn):
        """INITIALIZE FOR PURCHASE; returns the DEBIT command and the sequence number."""
        amounts = AMOUNT.to_bytes(4, "big") + bytes(8)
        data, _ = self.tx(b"\xB0\x28\x01\x01\x13\x01" + amounts + TERMINAL + b"\x16")
        seq, random = data[14:16], data[18:22]
        ttsn = ttsn.to_bytes(4, "big")
        sespk = sm4(dpk, random + seq + ttsn[2:4] + bytes(8))
        mac1 = mac(sespk, amounts + b"2" + TERMINAL + TIME)
        return b"\xB0\x2C\x01\x00\x0F" + ttsn + TIME + mac1 + b"\x08", seq


def main(reader_name, path, at_write):
    conn = connect(reader_name)
    hist = bytes(conn.getATR()[4:])
    dpk = diversify(diversify(DPK_ROOT, AREA + b"sx"), hist[5:13])
    term = Terminal(conn)
    term.open_purse()
    before = term.balance()
    debit, seq = term.start_purchase(dpk, 7)

    control(path, cmd="tear", at_write=at_write)
    try:
        term.tx(debit, want=None)
        sys.exit("the DEBIT was answered: the tear was not reached")
    except CardConnectionException:
        pass  # the card left the reader in the middle of the command
    wait_absent(reader_name)
    state = control(path, cmd="state")["state"]
    assert not state["inserted"], state

    control(path, cmd="insert")
    term = Terminal(connect(reader_name))
    term.open_purse()
    proof, sw = term.tx(b"\xB0\x2E\x00\x32\x02" + seq + b"\x08", want=None)
    after = term.balance()
    if sw == 0x9000:
        # MAC2 || TAC: the debit was committed before the power went.
        assert len(proof) == 8, proof.hex()
        assert after == before - AMOUNT, (before, after)
        outcome = "debited"
    elif sw == 0x9406:
        # No proof: the purse is as before; the terminal runs the purchase again.
        assert after == before, (before, after)
        debit, _ = term.start_purchase(dpk, 8)
        term.tx(debit)
        assert term.balance() == before - AMOUNT
        outcome = "not debited, purchase repeated"
    else:
        sys.exit("GET TRANSACTION PROOF -> %04X" % sw)
    state = control(path, cmd="state")["state"]
    assert state["purse"]["balance"] == before - AMOUNT, state["purse"]
    print("pyscard purse tear OK: %s (tear at write %d; balance %d -> %d fen)"
          % (outcome, at_write, before, before - AMOUNT))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
