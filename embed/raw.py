"""Camera RAW files (DNG, CR2/CR3, NEF, ARW, RAF, ORF, ...) as Pillow images, through LibRaw
(the rawpy wheel, which bundles it).

The embedded JPEG preview is used when it is large enough (MIN_PREVIEW_SIDE on its long side):
it opens lazily like any JPEG, so decode_rgb drafts it at 1/2..1/8 scale, and it is the picture
the camera showed. A file without one (or with a small one) is developed by LibRaw at half
size (demosaiced, camera white balance, 8 bits), already upright. The file's own EXIF (the TIFF
IFD0 of the TIFF-based RAWs: camera, capture time, GPS) comes with the picture, with the
orientation LibRaw reads from the file, so metadata reading sees what it sees in a JPEG, and
the size of the full picture (info[FULL_SIZE]), which the payload's width and height give.
"""

from __future__ import annotations

import io
import os
from typing import Any, BinaryIO

from PIL import Image

from embed.errors import ImageDecodeError

RAW_SUFFIXES = frozenset(
    {".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf",
     ".rw2", ".pef", ".srw", ".x3f", ".3fr", ".iiq", ".erf", ".mrw", ".kdc", ".dcr", ".mos",
     ".raw"}
)  # fmt: skip
RAW_FORMAT = "RAW"  # the Pillow format name the opened picture carries (payload format "raw")
MIN_PREVIEW_SIDE = 1024  # a smaller embedded preview (an old camera's 160x120) is not used
# image.info key: the picture's full size as LibRaw develops it (the preview or the half-size
# development is smaller), in the same frame as the picture returned (turned when developed)
FULL_SIZE = "raw_full_size"
# the head of a RAW file read for its EXIF: cameras write IFD0 and its sub-IFDs at the start
EXIF_HEAD_BYTES = 16 << 20
# LibRaw's flip (the turn that makes the picture upright) as EXIF orientation
_ORIENTATION_OF_FLIP = {0: 1, 3: 3, 5: 8, 6: 6}
_ORIENTATION_TAG = 0x0112
# IFD0 tags kept from the RAW file (its strips, sub-IFDs and private blocks are not copied)
_KEPT_TAGS = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298)
_SUB_IFDS = (0x8769, 0x8825)  # ExifIFD, GPS
_MAKER_NOTE = 0x927C


def is_raw(source: object) -> bool:
    """Whether source is a path, or a file opened by one, whose suffix names a camera RAW."""
    name = source if isinstance(source, (str, os.PathLike)) else getattr(source, "name", None)
    if not isinstance(name, (str, os.PathLike)):
        return False
    return os.path.splitext(os.fspath(name))[1].lower() in RAW_SUFFIXES


def open_raw(
    source: str | os.PathLike[str] | BinaryIO, max_pixels: int | None = None
) -> Image.Image:
    """The RAW file's picture (a path, or a file open for reading): its embedded JPEG preview
    (lazy) or LibRaw's half-size development, with the file's EXIF. A path is read by LibRaw
    itself (a huge file that is no RAW costs its header, not its size in memory). Raises
    ImageDecodeError when rawpy is missing, LibRaw cannot read the file or its picture has
    more than max_pixels pixels (checked before anything is developed); OSError when it cannot
    be read."""
    try:
        import rawpy
    except ImportError as exc:
        raise ImageDecodeError("unsupported: camera RAW needs rawpy (pip install rawpy)") from exc
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            head = handle.read(EXIF_HEAD_BYTES)
        readable: str | io.BytesIO = os.fspath(source)
    else:
        head = source.read()
        readable = io.BytesIO(head)
    if not head:
        raise ImageDecodeError("empty file: it holds no image data")
    try:
        with rawpy.imread(readable) as raw:
            _check_sensor(raw.sizes, max_pixels)
            flip = int(raw.sizes.flip)
            image = _preview(raw, rawpy)
            orientation = _ORIENTATION_OF_FLIP.get(flip, 1)
            full_size = (int(raw.sizes.width), int(raw.sizes.height))
            if image is None:
                image, orientation = _developed(raw), 1  # LibRaw has turned it already
                full_size = full_size[::-1] if flip in (5, 6) else full_size
    except (rawpy.LibRawError, ValueError) as exc:
        raise ImageDecodeError(f"camera RAW that LibRaw cannot read: {exc}") from exc
    exif = _exif_bytes(head, orientation)
    image.info["exif"] = exif
    image.info[FULL_SIZE] = full_size
    image.getexif().load(exif)  # replaces what the preview's own EXIF said (LibRaw's, dateless)
    image.format = RAW_FORMAT
    return image


def _check_sensor(sizes: Any, max_pixels: int | None) -> None:
    width, height = int(sizes.width), int(sizes.height)
    if max_pixels is not None and width * height > max_pixels:
        raise ImageDecodeError(
            f"camera RAW too large: {width}x{height} = {width * height:,} pixels exceeds the "
            f"limit of {max_pixels:,} pixels (PIXSEEK_MAX_IMAGE_PIXELS)"
        )


def _preview(raw: Any, rawpy: Any) -> Image.Image | None:
    """The embedded JPEG preview, opened lazily, when there is one large enough."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format != rawpy.ThumbFormat.JPEG:
        return None
    try:
        preview = Image.open(io.BytesIO(thumb.data))
    except (OSError, SyntaxError, ValueError):
        return None
    if max(preview.size) < MIN_PREVIEW_SIDE:
        preview.close()
        return None
    return preview


def _developed(raw: Any) -> Image.Image:
    """LibRaw's development at half size: 8-bit RGB, camera white balance, upright."""
    pixels = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
    return Image.fromarray(pixels)


def _exif_bytes(data: bytes, orientation: int) -> bytes:
    """The RAW file's camera EXIF as an EXIF block, with this orientation; only the
    orientation when the file is not TIFF-based or its IFDs cannot be read."""
    exif = Image.Exif()
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        try:
            exif = _camera_exif(data)
        except Exception:  # any parser failure in Pillow: the picture is still usable
            exif = Image.Exif()
    exif[_ORIENTATION_TAG] = orientation
    return bytes(exif.tobytes())


def _camera_exif(data: bytes) -> Image.Exif:
    found = Image.Exif()
    found.load(data)
    kept = Image.Exif()
    for tag in _KEPT_TAGS:
        if tag in found:
            kept[tag] = found[tag]
    for tag in _SUB_IFDS:
        ifd = {key: value for key, value in found.get_ifd(tag).items() if key != _MAKER_NOTE}
        if ifd:
            kept[tag] = ifd
    return kept
