import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]

# "sx1.sh.社会保障" in GBK: the SSSE's DF name.
SSSE = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
SELECT_SSSE = bytes([0x00, 0xA4, 0x04, 0x0C, len(SSSE)]) + SSSE
VERIFY_PIN = bytes.fromhex("0020000003123456")
VERIFY_WRONG = bytes.fromhex("0020000003999999")
VERIFY_QUERY = bytes.fromhex("00200000")


@pytest.fixture
def repo():
    return REPO
