"""What pixseek knows of image formats, in one place: which files a scan picks up, the name a
format has in a photo's payload (and so in the format filter), the names people type for it,
and the suffix and content type of a stored upload. The content of a file decides its format
(Pillow reads it); a suffix only decides whether a scan looks at the file."""

from __future__ import annotations

from dataclasses import dataclass

from embed.raw import RAW_FORMAT, RAW_SUFFIXES


@dataclass(frozen=True)
class ImageFormat:
    name: str  # in payloads and filters, lower-case: "jpeg"
    pillow: tuple[str, ...]  # what Pillow calls it ("MPO": a JPEG holding more than one picture)
    suffixes: tuple[str, ...]  # the ones a scan picks up; the first is a stored upload's
    mimetype: str


FORMATS: tuple[ImageFormat, ...] = (
    ImageFormat("jpeg", ("JPEG", "MPO"), (".jpg", ".jpeg", ".jpe", ".jfif", ".mpo"), "image/jpeg"),
    ImageFormat("png", ("PNG",), (".png",), "image/png"),
    ImageFormat("webp", ("WEBP",), (".webp",), "image/webp"),
    ImageFormat("gif", ("GIF",), (".gif",), "image/gif"),
    ImageFormat("bmp", ("BMP",), (".bmp",), "image/bmp"),
    ImageFormat("tiff", ("TIFF",), (".tif", ".tiff"), "image/tiff"),
    ImageFormat("heif", ("HEIF",), (".heic", ".heif"), "image/heif"),
    ImageFormat("avif", ("AVIF",), (".avif",), "image/avif"),
    ImageFormat("jpeg2000", ("JPEG2000",), (".jp2", ".j2k", ".jpf", ".jpx", ".j2c"), "image/jp2"),
    ImageFormat("jxl", ("JXL",), (".jxl",), "image/jxl"),  # pillow-jxl-plugin
    # camera RAW (DNG, CR2/CR3, NEF, ARW, RAF, ORF, ...): read by LibRaw by suffix (embed/raw.py)
    ImageFormat(
        "raw", (RAW_FORMAT,), (".dng", *sorted(RAW_SUFFIXES - {".dng"})), "application/octet-stream"
    ),
)
IMAGE_SUFFIXES = frozenset(suffix for known in FORMATS for suffix in known.suffixes)
NAMES = tuple(known.name for known in FORMATS)
_BY_PILLOW = {pillow: known for known in FORMATS for pillow in known.pillow}
_BY_NAME = {known.name: known for known in FORMATS}
# What people type for a format: any of its suffixes, or its name.
_TYPED = {suffix[1:]: known.name for known in FORMATS for suffix in known.suffixes}


# Files a scan passes over, and why: named so the summary can say it, not vanish without a word
_NOT_READ = {
    **dict.fromkeys(
        (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".mts", ".m2ts", ".3gp", ".webm", ".wmv"),
        "a video, not a photo",
    ),
    **dict.fromkeys((".xmp", ".aae", ".thm", ".pp3", ".dop", ".on1"), "an editor's sidecar file"),
    **dict.fromkeys(
        (".psd", ".psb", ".svg", ".pdf", ".eps", ".ico"), "not a photo format pixseek reads"
    ),
}  # fmt: skip


def why_not_read(suffix: str) -> str:
    """Why a scan passes over a file with this suffix, as "unsupported: <why>"."""
    reason = _NOT_READ.get(suffix.lower())
    if reason is None:
        shown = suffix.lower() or "without an extension"
        return f"unsupported: {shown} is not an image type pixseek reads"
    return f"unsupported: {reason}"


def of_pillow(pillow_format: str | None) -> ImageFormat | None:
    """The format pixseek reads under what Pillow calls it, or None."""
    return _BY_PILLOW.get(pillow_format or "")


def payload_name(pillow_format: str | None) -> str:
    """The name a photo's payload records: pixseek's name, else Pillow's in lower case, else
    "unknown"."""
    known = of_pillow(pillow_format)
    return known.name if known else (pillow_format or "unknown").lower()


def typed_name(value: str) -> str:
    """A format as a person types it ("JPG", ".tif", "heic") as payloads name it."""
    name = value.strip().lower().lstrip(".")
    return _TYPED.get(name, name)


def mimetype(name: str) -> str:
    """The content type to serve a photo of this format with."""
    known = _BY_NAME.get(name)
    return known.mimetype if known else "application/octet-stream"
