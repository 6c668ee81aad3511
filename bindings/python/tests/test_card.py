"""sscard.Card: the in-process card from Python."""
import json
import random

import pytest

import sscard
from conftest import REPO, SELECT_SSSE, SSSE, VERIFY_PIN, VERIFY_QUERY, VERIFY_WRONG


def test_default_card_is_powered_and_answers_like_in_a_reader():
    card = sscard.Card()
    assert card.powered
    assert card.atr[:2] == bytes([0x3B, 0x6D])
    # T=0: SELECT with Le answers 61 1E; the FCI comes with GET RESPONSE.
    data, sw = card.transmit(bytes([0x00, 0xA4, 0x04, 0x00, len(SSSE)]) + SSSE + b"\x00")
    assert (data, sw) == (b"", 0x611E)
    fci, sw = card.transmit(bytes([0x00, 0xC0, 0x00, 0x00, 0x1E]))
    assert sw == 0x9000 and fci[0] == 0x6F and SSSE in fci
    # The algorithm identifier of a gen-3 card: SM4 (03).
    assert fci[fci.index(bytes.fromhex("9F0C0386")) + 5] == 0x03


def test_transmit_takes_bytes_bytearray_and_lists():
    card = sscard.Card()
    assert card.transmit(SELECT_SSSE)[1] == 0x9000
    assert card.transmit(bytearray(VERIFY_QUERY))[1] == 0x63C3
    assert card.transmit(list(VERIFY_QUERY))[1] == 0x63C3
    with pytest.raises((TypeError, OverflowError, ValueError)):
        card.transmit([0x00, 0x20, 0x00, 0x100])


def test_pin_try_counter_and_reset():
    card = sscard.Card()
    card.transmit(SELECT_SSSE)
    assert card.transmit(VERIFY_WRONG) == (b"", 0x63C2)
    assert card.transmit(VERIFY_PIN) == (b"", 0x9000)
    assert card.transmit(VERIFY_QUERY) == (b"", 0x63C3), "success restores the counter"
    # DF01 record 1 needs the PIN: readable now, not after a reset.
    select_df01 = bytes.fromhex("00A4040C06D15600000500")
    read = bytes.fromhex("00B2012C04")
    assert card.transmit(select_df01)[1] == 0x9000
    assert card.transmit(read) == (bytes.fromhex("20023130"), 0x9000)
    atr = card.reset()
    assert atr == card.atr
    card.transmit(SELECT_SSSE)
    card.transmit(select_df01)
    assert card.transmit(read) == (b"", 0x6982)


def test_power_off_makes_the_card_refuse_commands():
    card = sscard.Card(powered=False)
    assert not card.powered
    with pytest.raises(sscard.NotPoweredError):
        card.transmit(SELECT_SSSE)
    atr = card.power_on()
    assert atr[:2] == bytes([0x3B, 0x6D])
    assert card.transmit(SELECT_SSSE)[1] == 0x9000
    card.power_off()
    assert not card.powered
    with pytest.raises(sscard.SscardError):
        card.transmit(SELECT_SSSE)


def test_seed_makes_challenges_reproducible():
    def challenge(seed):
        card = sscard.Card(seed=seed)
        card.transmit(SELECT_SSSE)
        data, sw = card.transmit(bytes.fromhex("0084000008"))
        assert sw == 0x9000 and len(data) == 8
        return data

    assert challenge(7) == challenge(7)
    assert challenge(7) != challenge(8)


def test_contactless_interface():
    card = sscard.Card(contactless=True)
    assert card.interface == "contactless"
    assert card.atr[:4] == bytes.fromhex("3B8D8001")
    # Contactless answers directly: no 61xx.
    data, sw = card.transmit(bytes([0x00, 0xA4, 0x04, 0x00, len(SSSE)]) + SSSE + b"\x00")
    assert sw == 0x9000 and data[0] == 0x6F
    card.interface = "contact"
    assert not card.powered, "moving the card cuts its power"
    assert card.power_on()[:2] == bytes([0x3B, 0x6D])
    with pytest.raises(ValueError):
        card.interface = "nfc"


def test_profiles():
    card = sscard.Card(profile=REPO / "vectors/profiles/gen2-3des.toml")
    data, sw = card.transmit(bytes([0x00, 0xA4, 0x04, 0x00, len(SSSE)]) + SSSE + b"\x00")
    fci, sw = card.transmit(bytes([0x00, 0xC0, 0x00, 0x00, sw & 0xFF]))
    assert sw == 0x9000
    algorithm = fci[fci.index(bytes.fromhex("9F0C0386")) + 5]
    assert algorithm != 0x03, "a 3DES card does not announce SM4"
    with pytest.raises(sscard.ProfileError, match="nonexistent"):
        sscard.Card(profile="/nonexistent/profile.toml")
    with pytest.raises(sscard.ProfileError):
        sscard.Card(profile=REPO / "tests/profiles/bad-atr.toml")
    with pytest.raises(ValueError):
        sscard.Card(profile=REPO / "vectors/profiles/gen1.toml", image="x.img")


def test_images_snapshot_and_persist(tmp_path):
    card = sscard.Card()
    card.transmit(SELECT_SSSE)
    assert card.transmit(VERIFY_WRONG)[1] == 0x63C2
    snapshot = tmp_path / "card.img"
    card.save_image(snapshot)
    assert snapshot.read_bytes()[:8] == b"\x89SSCIMG\n"

    # Read once: changes stay in memory.
    again = sscard.Card(image=snapshot)
    again.transmit(SELECT_SSSE)
    assert again.transmit(VERIFY_WRONG)[1] == 0x63C1
    fresh = sscard.Card(image=str(snapshot))
    fresh.transmit(SELECT_SSSE)
    assert fresh.transmit(VERIFY_QUERY)[1] == 0x63C2

    # persist=True: every change is saved before the answer.
    kept = sscard.Card(image=snapshot, persist=True)
    kept.transmit(SELECT_SSSE)
    assert kept.transmit(VERIFY_WRONG)[1] == 0x63C1
    reloaded = sscard.Card(image=snapshot)
    reloaded.transmit(SELECT_SSSE)
    assert reloaded.transmit(VERIFY_QUERY)[1] == 0x63C1
    # One card serves an image at a time (the image lock of `sscard run --image`).
    with pytest.raises(sscard.ImageError, match="snapshot|card.img|lock|use"):
        sscard.Card(image=snapshot, persist=True)
    with pytest.raises(sscard.ImageError):
        card.save_image(snapshot)
    kept.save_image(snapshot)
    del kept
    sscard.Card(image=snapshot, persist=True)

    with pytest.raises(ValueError, match="image"):
        sscard.Card(persist=True)
    (tmp_path / "bogus.img").write_bytes(b"not an image")
    with pytest.raises(sscard.ImageError):
        sscard.Card(image=tmp_path / "bogus.img")
    with pytest.raises(OSError):
        card.save_image(tmp_path / "missing" / "card.img")


def test_trace_text_and_json():
    card = sscard.Card(trace="text")
    card.transmit(SELECT_SSSE)
    card.transmit(VERIFY_WRONG)
    text = card.trace()
    assert "power-on" in text and "SELECT" in text and "VERIFY" in text
    assert "999999" not in text, "the PIN is masked"
    assert card.trace() == "", "lines are taken once"
    card.start_trace("json")
    card.transmit(VERIFY_QUERY)
    lines = [json.loads(line) for line in card.trace().splitlines()]
    assert lines and all(isinstance(line, dict) for line in lines)
    assert any("63C2" in json.dumps(line) for line in lines)
    with pytest.raises(ValueError):
        card.start_trace("xml")
    assert sscard.Card().trace() == "", "no trace unless asked"


def test_random_apdus_always_get_a_status_word():
    rng = random.Random(15)
    card = sscard.Card(seed=1)
    for _ in range(3000):
        apdu = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        data, sw = card.transmit(apdu)
        assert 0x6000 <= sw <= 0x9FFF or sw in (0x9000,), hex(sw)
        assert len(data) <= 65536


def test_repr_and_version():
    assert "powered" in repr(sscard.Card())
    assert sscard.__version__.count(".") == 2
