"""sscard.pyscard: pyscard tests run against the in-process card with one changed line."""
import types

import pytest

import sscard
import sscard.pyscard
from conftest import REPO, SELECT_SSSE, VERIFY_PIN

SSC_FLOW = REPO / "tests/e2e/ssc_flow.py"


def test_the_pcsc_e2e_pyscard_test_runs_unchanged_but_one_line(capsys):
    """tests/e2e/ssc_flow.py is the pyscard terminal the PC/SC end-to-end test runs
    against "Virtual PCD 00 00". Here its import of readers is the only line changed."""
    source = SSC_FLOW.read_text()
    original = "from smartcard.System import readers"
    assert source.count(original) == 1
    switched = source.replace(original, "from sscard.pyscard import readers")
    module = types.ModuleType("ssc_flow_in_process")
    exec(compile(switched, str(SSC_FLOW), "exec"), module.__dict__)
    module.main(str(sscard.pyscard.readers()[0]))
    out = capsys.readouterr().out
    assert "pyscard ssc flow OK" in out and "ATR 3B6D" in out


def reader_with_new_card(**kwargs):
    return sscard.pyscard.Reader(sscard.Card(seed=3, **kwargs), name="test reader")


def test_connection_semantics_follow_pyscard():
    reader = reader_with_new_card(powered=False)
    connection = reader.createConnection()
    assert connection.getReader() == "test reader"
    with pytest.raises(sscard.pyscard.CardConnectionException):
        connection.getATR()
    connection.connect()
    assert reader.card.powered, "connect powers the card"
    assert connection.getATR()[:2] == [0x3B, 0x6D]
    assert connection.getProtocol() == connection.T0_protocol
    assert connection.transmit(list(SELECT_SSSE)) == ([], 0x90, 0x00)
    assert connection.transmit(list(VERIFY_PIN)) == ([], 0x90, 0x00)
    select_df01 = list(bytes.fromhex("00A4040C06D15600000500"))
    read = list(bytes.fromhex("00B2012C04"))
    connection.transmit(select_df01)
    assert connection.transmit(read) == ([0x20, 0x02, 0x31, 0x30], 0x90, 0x00)
    # reconnect: a warm reset by default, the PIN state is gone.
    connection.reconnect()
    connection.transmit(list(SELECT_SSSE))
    connection.transmit(select_df01)
    assert connection.transmit(read)[1:] == (0x69, 0x82)
    # disconnect applies the last disposition: reconnect's reset (as pyscard does), then
    # connect's default, power off.
    connection.disconnect()
    assert reader.card.powered
    connection.connect()
    connection.disconnect()
    assert not reader.card.powered
    with pytest.raises(sscard.pyscard.CardConnectionException):
        connection.transmit(read)
    # LEAVE_CARD keeps it powered.
    connection.connect(disposition=sscard.pyscard.SCARD_LEAVE_CARD)
    connection.disconnect()
    assert reader.card.powered
    with connection:
        connection.connect(protocol=connection.T0_protocol)
    with pytest.raises(sscard.pyscard.CardConnectionException):
        connection.connect(protocol=connection.T1_protocol)
    connection.connect()
    assert connection.getAttrib(sscard.pyscard.SCARD_ATTR_ATR_STRING) == list(reader.card.atr)
    with pytest.raises(sscard.pyscard.SmartcardException):
        connection.control(0x42000001)


def test_contactless_connection_is_t1():
    connection = reader_with_new_card(contactless=True).createConnection()
    connection.connect()
    assert connection.getProtocol() == connection.T1_protocol


def test_empty_reader_raises_no_card():
    connection = sscard.pyscard.Reader(card=None, name="empty").createConnection()
    with pytest.raises(sscard.pyscard.NoCardException):
        connection.connect()


def test_readers_list_is_stable_and_extensible():
    first = sscard.pyscard.readers()
    assert first == sscard.pyscard.readers()
    assert first[0].card is sscard.pyscard.readers()[0].card, "the card stays in its reader"
    extra = sscard.pyscard.add_reader(sscard.Card(contactless=True))
    try:
        assert extra in sscard.pyscard.readers() and str(extra) != str(first[0])
    finally:
        sscard.pyscard.remove_reader(extra)
    assert extra not in sscard.pyscard.readers()


@pytest.mark.skipif(not sscard.pyscard.HAVE_PYSCARD, reason="pyscard is not installed")
def test_pyscard_observers_and_error_checking_work_unchanged():
    from smartcard.CardConnection import CardConnection
    from smartcard.CardConnectionObserver import CardConnectionObserver
    from smartcard.sw.ErrorCheckingChain import ErrorCheckingChain
    from smartcard.sw.ISO7816_4ErrorChecker import ISO7816_4ErrorChecker
    from smartcard.sw.SWExceptions import CheckingErrorException
    from smartcard.util import toHexString

    class Recorder(CardConnectionObserver):
        def __init__(self):
            self.events = []

        def update(self, connection, event):
            self.events.append((event.type, event.args))

    connection = reader_with_new_card().createConnection()
    assert isinstance(connection, CardConnection)
    recorder = Recorder()
    connection.addObserver(recorder)
    connection.connect()
    data, sw1, sw2 = connection.transmit(list(SELECT_SSSE))
    assert toHexString([sw1, sw2]) == "90 00"
    types_seen = [t for t, _ in recorder.events]
    assert types_seen == ["connect", "command", "response"]
    chain = []
    ErrorCheckingChain(chain, ISO7816_4ErrorChecker())  # appends itself
    connection.setErrorCheckingChain(chain)
    connection.transmit(list(bytes.fromhex("00A4040C06D15600000500")))
    with pytest.raises(CheckingErrorException):
        connection.transmit(list(bytes.fromhex("00B2012C04")))  # 6982: PIN not verified


def test_without_pyscard_the_stand_in_runs_the_same_flow(tmp_path):
    """With pyscard absent the connection is sscard's own stand-in: the pyscard test
    still runs with its one line switched."""
    import subprocess
    import sys

    script = tmp_path / "no_pyscard.py"
    script.write_text(
        "import sys, types\n"
        "sys.modules['smartcard'] = None  # as if pyscard were not installed\n"
        "import sscard.pyscard\n"
        "assert not sscard.pyscard.HAVE_PYSCARD\n"
        "source = open(%r).read().replace('from smartcard.System import readers',"
        " 'from sscard.pyscard import readers')\n"
        "module = types.ModuleType('flow')\n"
        "exec(compile(source, 'ssc_flow.py', 'exec'), module.__dict__)\n"
        "module.main(str(sscard.pyscard.readers()[0]))\n"
        "empty = sscard.pyscard.Reader(card=None, name='empty').createConnection()\n"
        "try:\n"
        "    empty.connect()\n"
        "except sscard.pyscard.NoCardException as e:\n"
        "    assert e.hresult == sscard.pyscard.SCARD_E_NO_SMARTCARD\n"
        "else:\n"
        "    raise AssertionError('connected to an empty reader')\n" % str(SSC_FLOW)
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "pyscard ssc flow OK" in done.stdout
