"""Photo metadata read from a lazily opened Pillow image: size, format, capture time, camera, GPS,
and the words a photographer gave it (title, caption, keywords, creator) from XMP, IPTC or EXIF.

The capture time is the first usable of, in this order (README: "Capture dates"):
EXIF DateTimeOriginal; XMP exif:DateTimeOriginal, photoshop:DateCreated, xmp:CreateDate; IPTC
DateCreated (+ TimeCreated); EXIF DateTimeDigitized; EXIF DateTime (IFD0, the time the file was
last changed in the camera or an editor); the file's mtime. taken_at_source names the one used.
Its UTC offset comes with it: EXIF OffsetTimeOriginal/OffsetTimeDigitized/OffsetTime for the
EXIF dates, the value's own offset for XMP and IPTC.

Everything here is best effort. EXIF in the wild is full of padding, placeholder dates, wrong
types and zero denominators; a bad value only turns its own field into None (or its fallback),
it never fails the photo.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from numbers import Real

from PIL import Image

from embed.raw import FULL_SIZE
from pixseek.photos.formats import payload_name
from pixseek.photos.iptc import IptcFields, read_iptc
from pixseek.photos.xmp import XmpProperties, read_xmp

logger = logging.getLogger(__name__)

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
TAG_ORIENTATION = 0x0112
TAG_MAKE = 0x010F
TAG_MODEL = 0x0110
TAG_DATETIME = 0x0132
TAG_DATETIME_ORIGINAL = 0x9003
TAG_DATETIME_DIGITIZED = 0x9004
TAG_OFFSET_TIME = 0x9010
TAG_OFFSET_TIME_ORIGINAL = 0x9011
TAG_OFFSET_TIME_DIGITIZED = 0x9012
TAG_IMAGE_DESCRIPTION = 0x010E
TAG_ARTIST = 0x013B
TAG_LENS_MODEL = 0xA434
GPS_LATITUDE_REF = 1
GPS_LATITUDE = 2
GPS_LONGITUDE_REF = 3
GPS_LONGITUDE = 4

_DATE_FORMATS = ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
_OFFSET_RE = re.compile(r"[+-](\d{2}):(\d{2})")
# XMP dates: ISO 8601 to the year, month, day, minute or second (fractions), offset or Z
_XMP_DATE_RE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?)?)?)?"
)
_IPTC_TIME_RE = re.compile(r"(\d{2}):?(\d{2}):?(\d{2})?([+-]\d{2}:?\d{2})?")
_PADDING = " \t\r\n\x00"
# What some cameras write into ImageDescription when nobody described the photo
_CAMERA_PLACEHOLDERS = frozenset({
    "olympus digital camera", "sony dsc", "digital camera", "default", "camera", "image",
    "kodak digital still camera", "minolta digital camera", "exif_jpeg_picture",
})  # fmt: skip


@dataclass(frozen=True)
class PhotoMetadata:
    """What pixseek knows about a photo besides its pixels."""

    width: int  # after EXIF orientation (orientations 5..8 swap width and height)
    height: int
    format: str  # lower-case Pillow format name, "unknown" if Pillow gives none
    orientation: int  # EXIF orientation 1..8, 1 when absent or invalid
    taken_at: str | None  # local wall-clock time, "YYYY-MM-DDTHH:MM:SS", no offset
    taken_at_offset: str | None  # "+02:00", only when the tag used gives one
    taken_at_source: str  # the tag used ("exif:DateTimeOriginal", "xmp:photoshop:DateCreated",
    # "iptc:DateCreated", …) or "file" (the file's mtime stood in); "exif" before issue 13
    camera_make: str | None
    camera_model: str | None
    lens: str | None
    gps: dict[str, float] | None  # {"lat": ..., "lon": ...}, decimal degrees, S and W negative
    title: str | None = None  # XMP dc:title, else IPTC ObjectName
    description: str | None = None  # XMP dc:description, IPTC Caption, EXIF ImageDescription
    keywords: tuple[str, ...] = ()  # XMP dc:subject, else IPTC Keywords
    artist: str | None = None  # XMP dc:creator, IPTC By-line, EXIF Artist

    @property
    def shape(self) -> str:
        """ "landscape", "portrait" or "square", from the oriented width and height."""
        if self.width > self.height:
            return "landscape"
        if self.height > self.width:
            return "portrait"
        return "square"

    def camera_keys(self) -> list[str]:
        """Lower-case search keys: make, model and "make model", deduplicated, order stable.

        When the model already names the make ("Canon" / "Canon EOS 5D") the combined key is just
        the model, so a search for "canon canon eos 5d" is never needed.
        """
        make = " ".join((self.camera_make or "").lower().split())
        model = " ".join((self.camera_model or "").lower().split())
        keys = [make, model]
        if make and model:
            keys.append(
                model if model == make or model.startswith(make + " ") else f"{make} {model}"
            )
        return list(dict.fromkeys(key for key in keys if key))


def read_metadata(image: Image.Image, file_mtime: float) -> PhotoMetadata:
    """Read metadata from an image opened lazily by Pillow, without loading its pixels.

    The caller decodes afterwards, possibly in draft mode, which changes image.size; so the size
    is read here first. Capture time: see the module's docstring; when no tag is usable, the
    file mtime (local wall-clock time) stands in and taken_at_source is "file". Malformed
    values are ignored, never fatal.
    """
    width, height = image.info.get(FULL_SIZE, image.size)  # a RAW's sensor, not its preview
    exif = _exif_of(image)
    exif_ifd = _sub_ifd(exif, EXIF_IFD)
    xmp, iptc = read_xmp(image), read_iptc(image)
    orientation = _orientation(_tag(exif, TAG_ORIENTATION))
    if orientation >= 5 and not _sized_upright(image):
        width, height = height, width  # 5..8 rotate by 90 degrees: the picture is transposed
    taken_at, offset, source = _taken(exif, exif_ifd, xmp, iptc, file_mtime)
    return PhotoMetadata(
        width=width,
        height=height,
        format=_format_name(image),
        orientation=orientation,
        taken_at=taken_at,
        taken_at_offset=offset,
        taken_at_source=source,
        camera_make=_text(_tag(exif, TAG_MAKE)),
        camera_model=_text(_tag(exif, TAG_MODEL)),
        lens=_text(_tag(exif_ifd, TAG_LENS_MODEL)),
        gps=_gps(_sub_ifd(exif, GPS_IFD)),
        title=_first_text(xmp.get("dc:title"), iptc.get("ObjectName")),
        description=_first_text(
            xmp.get("dc:description"),
            iptc.get("Caption-Abstract"),
            [_described(_tag(exif, TAG_IMAGE_DESCRIPTION))],
        ),
        keywords=_keywords(xmp.get("dc:subject") or iptc.get("Keywords") or []),
        artist=_first_text(
            [", ".join(xmp.get("dc:creator", []))], iptc.get("By-line"), [_tag(exif, TAG_ARTIST)]
        ),
    )


def _exif_of(image: Image.Image) -> Mapping[int, object]:
    """The image's EXIF IFD0, or an empty one when there is none or it cannot be parsed."""
    # PngImageFile.getexif() decodes every pixel to look for an eXIf chunk after IDAT when none
    # came before it; that defeats lazy reading and draft decoding, so such PNGs count as bare.
    if image.format == "PNG" and "exif" not in image.info:
        return Image.Exif()
    try:
        return image.getexif()
    except Exception as exc:  # any parser failure in Pillow: the photo itself is still usable
        logger.warning("unreadable EXIF in %s: %s", getattr(image, "filename", "?"), exc)
        return Image.Exif()


def _sub_ifd(exif: Mapping[int, object], tag: int) -> Mapping[int, object]:
    """A sub-IFD (ExifIFD, GPS) as a mapping; empty when absent or broken."""
    if not isinstance(exif, Image.Exif):
        return {}
    try:
        return exif.get_ifd(tag)
    except Exception as exc:  # bad offsets or counts inside the EXIF block
        logger.debug("unreadable EXIF sub-IFD 0x%04x: %s", tag, exc)
        return {}


def _tag(ifd: Mapping[int, object], tag: int) -> object:
    """One tag's value, or None; Pillow unpacks values lazily, so reading one can fail."""
    try:
        return ifd.get(tag)
    except Exception as exc:
        logger.debug("unreadable EXIF tag 0x%04x: %s", tag, exc)
        return None


def _format_name(image: Image.Image) -> str:
    """The format's name in the payload (an MPO is a JPEG), "unknown" when Pillow gives none."""
    return payload_name(image.format)


def _sized_upright(image: Image.Image) -> bool:
    """Pillow's TIFF plugin applies the orientation itself, so its size is already upright."""
    return image.format == "TIFF"


def _orientation(value: object) -> int:
    """EXIF orientation 1..8; anything else (absent, out of range, wrong type) is 1."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 8:
        return value
    if value is not None:
        logger.debug("ignoring EXIF orientation %r", value)
    return 1


def _text(value: object) -> str | None:
    """A metadata string without padding (spaces, NULs) or control characters; None when
    empty, not text, or junk: nothing in it is a letter or a digit (a lone 0x8c byte as
    camera make, a run of 0xff)."""
    if isinstance(value, bytes):  # UNDEFINED-typed tags arrive as bytes
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    # EXIF ASCII ends at the first NUL; some cameras leave junk after it.
    cleaned = value.strip(_PADDING).split("\x00", 1)[0]
    kept = (c for c in cleaned if c.isspace() or unicodedata.category(c)[0] != "C")
    cleaned = " ".join("".join(c for c in kept if c != "\ufffd").split())
    if not any(c.isalnum() for c in cleaned):
        return None
    return cleaned


def _first_text(*candidates: Sequence[object] | None) -> str | None:
    """The first usable text among lists of values, in order of preference."""
    for values in candidates:
        for value in values or []:
            if (text := _text(value)) is not None:
                return text
    return None


def _described(value: object) -> str | None:
    """EXIF ImageDescription, unless it is what the camera writes when nobody described it."""
    text = _text(value)
    if text is None or text.lower() in _CAMERA_PLACEHOLDERS:
        return None
    return text


def _keywords(values: list[str]) -> tuple[str, ...]:
    """Keywords without junk or repeats, in their order (some tools write one "a, b; c")."""
    words = (_text(part) for value in values for part in re.split(r"[;,]", value))
    return tuple(dict.fromkeys(word for word in words if word))


Taken = tuple[datetime, str | None]  # local wall-clock time, its UTC offset when known


def _taken(
    exif: Mapping[int, object],
    exif_ifd: Mapping[int, object],
    xmp: XmpProperties,
    iptc: IptcFields,
    file_mtime: float,
) -> tuple[str | None, str | None, str]:
    """(taken_at, offset, source): the first usable date in the module docstring's order."""

    def exif_date(ifd: Mapping[int, object], tag: int, *offsets: int) -> Taken | None:
        parsed = _parse_exif_date(_tag(ifd, tag))
        if parsed is None:
            return None
        offset = next((o for t in offsets if (o := _offset(_tag(exif_ifd, t)))), None)
        return parsed, offset

    def xmp_date(name: str) -> Taken | None:
        return _parse_xmp_date(xmp.get(name, [""])[0])

    candidates = (
        ("exif:DateTimeOriginal", lambda: exif_date(
            exif_ifd, TAG_DATETIME_ORIGINAL, TAG_OFFSET_TIME_ORIGINAL, TAG_OFFSET_TIME)),
        ("xmp:exif:DateTimeOriginal", lambda: xmp_date("exif:DateTimeOriginal")),
        ("xmp:photoshop:DateCreated", lambda: xmp_date("photoshop:DateCreated")),
        ("xmp:xmp:CreateDate", lambda: xmp_date("xmp:CreateDate")),
        ("iptc:DateCreated", lambda: _parse_iptc_date(iptc)),
        ("exif:DateTimeDigitized", lambda: exif_date(
            exif_ifd, TAG_DATETIME_DIGITIZED, TAG_OFFSET_TIME_DIGITIZED, TAG_OFFSET_TIME)),
        ("exif:DateTime", lambda: exif_date(exif, TAG_DATETIME, TAG_OFFSET_TIME)),
    )  # fmt: skip
    for source, read in candidates:
        if (found := read()) is not None:
            return found[0].isoformat(timespec="seconds"), found[1], source
    return _file_time(file_mtime), None, "file"


def _parse_xmp_date(value: str) -> Taken | None:
    """An XMP date ("2010-07-11T14:03:02+02:00", "2010-07-11T14:03", "2010-07", "2010"); a
    missing part is its first (month 1, day 1, midnight). None for junk."""
    match = _XMP_DATE_RE.fullmatch(value.strip())
    if match is None:
        if value:
            logger.debug("ignoring XMP date %r", value)
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        taken = datetime(
            int(year), int(month or 1), int(day or 1),
            int(hour or 0), int(minute or 0), int(second or 0),
        )  # fmt: skip
    except ValueError:
        return None
    return taken, _zone(zone)


def _parse_iptc_date(iptc: IptcFields) -> Taken | None:
    """IPTC DateCreated (CCYYMMDD) with TimeCreated (HHMMSS±HHMM) when present."""
    digits = "".join(c for c in iptc.get("DateCreated", [""])[0] if c.isdigit())
    try:
        day = datetime.strptime(digits, "%Y%m%d")
    except ValueError:
        return None
    time_match = _IPTC_TIME_RE.fullmatch(iptc.get("TimeCreated", [""])[0].strip())
    if time_match is None:
        return day, None
    hour, minute, second, zone = time_match.groups()
    try:
        return day.replace(hour=int(hour), minute=int(minute), second=int(second or 0)), _zone(zone)
    except ValueError:
        return day, None


def _zone(text: str | None) -> str | None:
    """ "Z", "+0200" or "+02:00" as "+00:00"/"+02:00"; None when absent or out of range."""
    if not text:
        return None
    if text == "Z":
        return "+00:00"
    digits = text[1:].replace(":", "")
    return _offset(f"{text[0]}{digits[:2]}:{digits[2:]}")


def _parse_exif_date(value: object) -> datetime | None:
    """An EXIF date ("2021:06:01 12:30:45", dashes tolerated); None for placeholders or junk."""
    text = _text(value)
    if text is None:
        return None
    # strptime rejects "0000:00:00 00:00:00" (no year 0) and blank "    :  :  " placeholders.
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    logger.debug("ignoring EXIF date %r", value)
    return None


def _offset(value: object) -> str | None:
    """A UTC offset like "+02:00" as EXIF 2.31 writes it; None when absent or malformed."""
    text = _text(value)
    match = _OFFSET_RE.fullmatch(text) if text else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        if value is not None:
            logger.debug("ignoring EXIF time offset %r", value)
        return None
    return text


def _file_time(file_mtime: float) -> str | None:
    """The mtime as local wall-clock time; None when the platform cannot represent it."""
    try:
        return datetime.fromtimestamp(file_mtime).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError) as exc:
        logger.warning("file mtime %r is not a usable date: %s", file_mtime, exc)
        return None


def _gps(gps_ifd: Mapping[int, object]) -> dict[str, float] | None:
    """{"lat", "lon"} in signed decimal degrees, or None when either is absent or invalid."""
    lat = _coordinate(_tag(gps_ifd, GPS_LATITUDE), _tag(gps_ifd, GPS_LATITUDE_REF), "S", 90.0)
    lon = _coordinate(_tag(gps_ifd, GPS_LONGITUDE), _tag(gps_ifd, GPS_LONGITUDE_REF), "W", 180.0)
    if lat is None or lon is None:
        return None
    # Cameras without a fix often write zeros; a real photo at exactly 0,0 is in open sea.
    if lat == 0.0 and lon == 0.0:
        return None
    return {"lat": lat, "lon": lon}


def _coordinate(value: object, ref: object, negative_ref: str, limit: float) -> float | None:
    """Signed decimal degrees from EXIF (degrees, minutes, seconds) and a N/S or E/W ref."""
    degrees = _dms_to_degrees(value)
    if degrees is None:
        return None
    ref_text = _text(ref)
    positive_ref = {"S": "N", "W": "E"}[negative_ref]
    if ref_text is not None and ref_text.upper() not in (negative_ref, positive_ref):
        logger.debug("ignoring GPS ref %r", ref)
        return None
    if ref_text is not None:  # the ref decides the sign; without one, keep the stored sign
        degrees = -abs(degrees) if ref_text.upper() == negative_ref else abs(degrees)
    if not -limit <= degrees <= limit:
        logger.debug("ignoring GPS coordinate %r out of range", value)
        return None
    return degrees


def _dms_to_degrees(value: object) -> float | None:
    """Degrees from a (deg, min, sec) tuple of rationals (shorter tuples tolerated), else None."""
    parts = value if isinstance(value, tuple) else (value,)
    if value is None or not 1 <= len(parts) <= 3:
        return None
    numbers = []
    for part in parts:
        if not isinstance(part, Real) or isinstance(part, bool):
            logger.debug("ignoring GPS value %r", value)
            return None
        number = float(part)  # an IFDRational with a zero denominator is nan
        if not math.isfinite(number):
            return None
        numbers.append(number)
    degrees, minutes, seconds = (*numbers, 0.0, 0.0)[:3]
    if minutes < 0 or seconds < 0:
        return None
    magnitude = abs(degrees) + minutes / 60 + seconds / 3600
    return -magnitude if degrees < 0 else magnitude
