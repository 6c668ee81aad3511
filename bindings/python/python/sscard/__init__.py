"""sscard: China's third-generation social security card, emulated in this process.

    import sscard
    card = sscard.Card()                      # the default gen-3 card, powered on
    data, sw = card.transmit(bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00"))
    assert sw == 0x611E                       # T=0: 30 bytes wait for GET RESPONSE

``sscard.Card(profile=PATH)`` personalizes a card from a TOML profile;
``sscard.Card(image=PATH)`` opens a card image. ``sscard.pyscard`` gives a
pyscard-compatible reader and connection, so a pyscard test switches from a PC/SC reader to
the in-process card by changing its import of ``readers``.
"""

from ._sscard import (
    Card,
    CardMuteError,
    ImageError,
    NotPoweredError,
    ProfileError,
    SscardError,
    __version__,
)

__all__ = [
    "Card",
    "CardMuteError",
    "ImageError",
    "NotPoweredError",
    "ProfileError",
    "SscardError",
    "__version__",
]
