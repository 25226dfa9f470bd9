"""The IPTC IIM fields pixseek reads (Photo Mechanic and older tools write these; Lightroom
writes both IPTC and XMP): date and time created, object name, caption, keywords, by-line.

Pillow finds the IIM block (a JPEG's Photoshop APP13 resource, a TIFF's tag); text is UTF-8
when the block says so (CodedCharacterSet ESC % G) or decodes as UTF-8, else Latin-1, which
is what most older files use.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from PIL import Image, ImageFile, IptcImagePlugin

log = logging.getLogger(__name__)

CHARACTER_SET = (1, 90)
UTF8_MARK = b"\x1b%G"
FIELDS = {
    (2, 5): "ObjectName",
    (2, 25): "Keywords",
    (2, 55): "DateCreated",
    (2, 60): "TimeCreated",
    (2, 80): "By-line",
    (2, 120): "Caption-Abstract",
}

IptcFields = Mapping[str, list[str]]


def read_iptc(image: Image.Image) -> IptcFields:
    """{"Keywords": ["harbour", …], "DateCreated": ["20061029"], …}; empty without IPTC."""
    if not isinstance(image, ImageFile.ImageFile):
        return {}
    try:
        block = IptcImagePlugin.getiptcinfo(image) or {}
    except Exception as exc:  # a truncated or malformed block: the photo is still fine
        log.debug("unreadable IPTC in %s: %s", getattr(image, "filename", "?"), exc)
        return {}
    utf8 = _raw_values(block.get(CHARACTER_SET))[:1] == [UTF8_MARK]
    found: dict[str, list[str]] = {}
    for key, name in FIELDS.items():
        texts = [_decode(raw, utf8).strip() for raw in _raw_values(block.get(key))]
        if kept := [text for text in texts if text]:
            found[name] = kept
    return found


def _raw_values(value: object) -> list[bytes]:
    """A field as Pillow gives it (bytes, or a list of bytes when repeated) as a list."""
    if isinstance(value, bytes):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, bytes)]
    return []


def _decode(raw: bytes, utf8: bool) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8" if utf8 else "latin-1", errors="replace")
