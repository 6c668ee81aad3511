"""pyscard-compatible readers and connections for the in-process card.

A pyscard test written for a card in a PC/SC reader::

    from smartcard.System import readers
    connection = readers()[0].createConnection()
    connection.connect()
    data, sw1, sw2 = connection.transmit([0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00])

runs against the in-process card when its import becomes::

    from sscard.pyscard import readers

``readers()`` lists the in-process readers: by default one, "sscard in-process 00", holding
the default card (``sscard.Card()``), made at the first call and kept for the process, as a
card stays in its reader. ``add_reader(card)`` puts other cards in other readers.

When pyscard is installed, connections *are* pyscard ``CardConnection`` objects
(observers, error-checking chains, ``CardConnectionDecorator`` work unchanged) and raise
pyscard's own exceptions; without it a small stand-in keeps the same interface.
"""

from . import _sscard

# PC/SC dispositions (winscard.h), as pyscard passes them.
SCARD_LEAVE_CARD = 0
SCARD_RESET_CARD = 1
SCARD_UNPOWER_CARD = 2
SCARD_EJECT_CARD = 3
SCARD_ATTR_ATR_STRING = 0x00090303
SCARD_E_NO_SMARTCARD = 0x8010000C

try:
    from smartcard.CardConnection import CardConnection as _CardConnectionBase
    from smartcard.Exceptions import (
        CardConnectionException,
        NoCardException,
        SmartcardException,
    )

    try:
        from smartcard.scard import SCARD_E_NO_SMARTCARD
    except ImportError:
        pass
    HAVE_PYSCARD = True
except ImportError:  # pyscard not installed: the same interface, without its extras
    HAVE_PYSCARD = False

    class SmartcardException(Exception):
        """Base class of the connection errors (pyscard's name and arguments)."""

        def __init__(self, message="", hresult=-1, *args):
            super().__init__(message, *args)
            self.hresult = int(hresult)

    class CardConnectionException(SmartcardException):
        """A connection method failed (pyscard's name)."""

    class NoCardException(SmartcardException):
        """No card in the reader (pyscard's name)."""

    class CardConnectionEvent:
        """What observers are told: ``type`` ('connect', 'command', ...) and ``args``."""

        def __init__(self, type, args=None):
            self.type = type
            self.args = args

    class _CardConnectionBase:
        """The parts of ``smartcard.CardConnection.CardConnection`` tests use."""

        T0_protocol = 0x00000001
        T1_protocol = 0x00000002
        RAW_protocol = 0x00010000
        T15_protocol = 0x00000008

        def __init__(self, reader):
            self.reader = reader
            self.errorcheckingchain = None
            self.defaultprotocol = self.T0_protocol | self.T1_protocol
            self._observers = []

        def addObserver(self, observer):
            if observer not in self._observers:
                self._observers.append(observer)

        def deleteObserver(self, observer):
            if observer in self._observers:
                self._observers.remove(observer)

        def _notify(self, event):
            for observer in list(self._observers):
                observer.update(self, event)

        def connect(self, protocol=None, mode=None, disposition=None):
            self._notify(CardConnectionEvent("connect"))

        def reconnect(self, protocol=None, mode=None, disposition=None):
            self._notify(CardConnectionEvent("reconnect"))

        def disconnect(self):
            self._notify(CardConnectionEvent("disconnect"))

        def getProtocol(self):
            return self.defaultprotocol

        def setProtocol(self, protocol):
            self.defaultprotocol = protocol

        def getReader(self):
            return self.reader

        def setErrorCheckingChain(self, errorcheckingchain):
            self.errorcheckingchain = errorcheckingchain

        def transmit(self, bytes, protocol=None):
            self._notify(CardConnectionEvent("command", [bytes, protocol]))
            data, sw1, sw2 = self.doTransmit(bytes, protocol)
            self._notify(CardConnectionEvent("response", [data, sw1, sw2]))
            if self.errorcheckingchain is not None:
                self.errorcheckingchain[0](data, sw1, sw2)
            return data, sw1, sw2

        def control(self, controlCode, bytes=[]):
            return self.doControl(controlCode, bytes)

        def getAttrib(self, attribId):
            return self.doGetAttrib(attribId)

        def __enter__(self):
            return self

        def __exit__(self, type, value, traceback):
            self.disconnect()


class InProcessCardConnection(_CardConnectionBase):
    """A connection to the card of an in-process ``Reader``, with pyscard's semantics:
    ``connect`` powers an unpowered card; ``disconnect`` applies the disposition given to
    ``connect`` (default: power the card off, as pyscard's); ``reconnect`` resets (by
    default) or powers the card down and up again."""

    def __init__(self, reader):
        # pyscard's PC/SC connections keep the reader's name: so does getReader() here.
        _CardConnectionBase.__init__(self, str(reader))
        self._reader = reader
        self._connected = False
        self.disposition = SCARD_UNPOWER_CARD

    def _card(self):
        card = self._reader.card
        if card is None:
            raise NoCardException(
                "no card in reader %s" % self._reader, hresult=SCARD_E_NO_SMARTCARD
            )
        return card

    def _require_connected(self):
        if not self._connected:
            raise CardConnectionException("Card not connected")
        return self._card()

    def _protocol(self, card):
        # The contact ATR announces T=0 only; the contactless one (3B 8D 80 01 ...) T=1.
        if card.interface == "contact":
            return self.T0_protocol
        return self.T1_protocol

    def connect(self, protocol=None, mode=None, disposition=None):
        _CardConnectionBase.connect(self, protocol, mode, disposition)
        card = self._card()
        if not card.powered:
            try:
                card.power_on()
            except _sscard.SscardError as e:
                raise CardConnectionException("Unable to connect: %s" % e)
        wanted = protocol if protocol is not None else self.getProtocol()
        if wanted is not None and not wanted & (self._protocol(card) | self.RAW_protocol):
            raise CardConnectionException(
                "Unable to connect with protocol: the card speaks %s"
                % ("T=0" if self._protocol(card) == self.T0_protocol else "T=1")
            )
        self.disposition = SCARD_UNPOWER_CARD if disposition is None else disposition
        self._connected = True

    def reconnect(self, protocol=None, mode=None, disposition=None):
        _CardConnectionBase.reconnect(self, protocol, mode, disposition)
        card = self._require_connected()
        disposition = SCARD_RESET_CARD if disposition is None else disposition
        try:
            if disposition == SCARD_RESET_CARD:
                card.reset()
            elif disposition in (SCARD_UNPOWER_CARD, SCARD_EJECT_CARD):
                card.power_off()
                card.power_on()
        except _sscard.SscardError as e:
            raise CardConnectionException("Unable to reconnect: %s" % e)
        self.disposition = disposition

    def disconnect(self):
        _CardConnectionBase.disconnect(self)
        if not self._connected:
            return
        self._connected = False
        card = self._reader.card
        if card is None:
            return
        if self.disposition == SCARD_RESET_CARD:
            card.reset()
        elif self.disposition in (SCARD_UNPOWER_CARD, SCARD_EJECT_CARD):
            card.power_off()

    def release(self):
        """Nothing to release in-process (pyscard releases its PC/SC context here)."""

    def getATR(self):
        return list(self._require_connected().atr)

    def getProtocol(self):
        if self._connected and self._reader.card is not None:
            return self._protocol(self._reader.card)
        return _CardConnectionBase.getProtocol(self)

    def doTransmit(self, command, protocol=None):
        card = self._require_connected()
        try:
            data, sw = card.transmit(bytes(command))
        except _sscard.SscardError as e:
            raise CardConnectionException("Failed to transmit: %s" % e)
        return list(data), sw >> 8, sw & 0xFF

    def doControl(self, controlCode, command=[]):
        raise SmartcardException(
            "the in-process reader has no control codes (SCardControl %#x)" % controlCode
        )

    def doGetAttrib(self, attribId):
        if attribId == SCARD_ATTR_ATR_STRING:
            return self.getATR()
        raise SmartcardException("attribute %#x not available in-process" % attribId)


_DEFAULT_CARD = object()


class Reader:
    """An in-process reader holding a ``sscard.Card`` (or none: ``card=None``)."""

    def __init__(self, card=_DEFAULT_CARD, name="sscard in-process 00"):
        self.name = name
        self.card = _sscard.Card() if card is _DEFAULT_CARD else card

    def createConnection(self):
        """A new connection to this reader's card (pyscard's method name)."""
        return InProcessCardConnection(self)

    def __str__(self):
        return self.name

    def __repr__(self):
        return "<sscard.pyscard.Reader %r>" % self.name

    def __eq__(self, other):
        return str(self) == str(other)

    def __hash__(self):
        return hash(self.name)


_readers = []


def readers(groups=[]):
    """The in-process readers, like ``smartcard.System.readers()`` (groups are ignored)."""
    if not _readers:
        _readers.append(Reader())
    return list(_readers)


def add_reader(card, name=None):
    """Puts ``card`` in a new in-process reader, listed by ``readers()``; returns it."""
    readers()
    reader = Reader(card, name or "sscard in-process %02d" % len(_readers))
    _readers.append(reader)
    return reader


def remove_reader(reader):
    """Takes a reader (and its card) out of ``readers()``."""
    _readers.remove(reader)
