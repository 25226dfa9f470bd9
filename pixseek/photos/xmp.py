"""The properties of a photo's XMP packet that pixseek reads (dates, title, caption, keywords,
creator), as Lightroom, Photo Mechanic, darktable or exiftool write them.

A property can be an attribute of an rdf:Description (`photoshop:DateCreated="…"`), an element
with text, or an element holding an rdf:Alt (language alternatives: x-default first), rdf:Bag or
rdf:Seq of rdf:li items. The packet is parsed with defusedxml (no entities, no DTD) and only
when it is at most MAX_PACKET bytes; anything unreadable counts as no XMP.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeTree
from PIL import Image

log = logging.getLogger(__name__)

MAX_PACKET = 1 << 20  # real packets are a few KB; a bigger one is not worth parsing
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NAMESPACES = {
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://ns.adobe.com/exif/1.0/": "exif",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://ns.adobe.com/xap/1.0/": "xmp",
}
PROPERTIES = frozenset({
    "dc:title", "dc:description", "dc:subject", "dc:creator",
    "exif:DateTimeOriginal", "photoshop:DateCreated", "xmp:CreateDate",
})  # fmt: skip

XmpProperties = Mapping[str, list[str]]


def read_xmp(image: Image.Image) -> XmpProperties:
    """{"dc:subject": ["boats", …], "photoshop:DateCreated": ["2010-07-11T14:03:02+02:00"], …}
    for the PROPERTIES the image's XMP holds; empty without (readable) XMP."""
    packet = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    if not packet or len(packet) > MAX_PACKET:
        return {}
    try:
        root = SafeTree.fromstring(packet.strip(b"\x00 \t\r\n") if isinstance(packet, bytes)
                                   else packet.strip())  # fmt: skip
    except Exception as exc:  # malformed XML, entities, a DTD: the photo is still fine
        log.debug("unreadable XMP in %s: %s", getattr(image, "filename", "?"), exc)
        return {}
    found: dict[str, list[str]] = {}
    for description in root.iter(f"{{{RDF}}}Description"):
        for name, value in description.attrib.items():
            _add(found, _short(name), [value])
        for element in description:
            _add(found, _short(element.tag), _values(element))
    return found


def _short(qualified: str) -> str | None:
    """'{http://purl.org/dc/elements/1.1/}title' → 'dc:title' (None for other namespaces)."""
    namespace, _, local = qualified[1:].partition("}")
    prefix = NAMESPACES.get(namespace)
    return f"{prefix}:{local}" if prefix else None


def _values(element: Element) -> list[str]:
    """An element's text, or the items of the rdf:Alt/Bag/Seq it holds (Alt: x-default first)."""
    for container in ("Alt", "Bag", "Seq"):
        held = element.find(f"{{{RDF}}}{container}")
        if held is not None:
            items = held.findall(f"{{{RDF}}}li")
            if container == "Alt":
                items.sort(key=lambda item: item.get(XML_LANG) != "x-default")
            return [item.text or "" for item in items]
    return [element.text or ""]


def _add(found: dict[str, list[str]], name: str | None, values: list[str]) -> None:
    kept = [value.strip() for value in values if value and value.strip()]
    if name in PROPERTIES and kept and name not in found:
        found[name] = kept
