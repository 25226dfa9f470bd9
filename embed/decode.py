"""Decode image files into 8-bit RGB pictures for the model: lazily, cheaply and safely.

open_image() reads only the header, so the caller can read metadata and reject oversized
pictures before any pixel is decoded; decode_rgb() then decodes once, at a reduced scale where
the format allows it, applies the EXIF orientation and converts whatever mode the file holds
into RGB. Every failure is an ImageDecodeError whose message tells the user what is wrong.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError, features
from PIL.JpegImagePlugin import JpegImageFile

from embed.errors import ImageDecodeError

# Pillow's own default bomb threshold (Image.MAX_IMAGE_PIXELS); Pillow only warns there and
# errors at twice that, but a picture this large is never worth decoding for a search index.
DEFAULT_MAX_PIXELS: int = 178_956_970

ImageSource = str | os.PathLike[str] | bytes | BinaryIO

# What Pillow raises on truncated or malformed data, from its decoders and its header parsers;
# its AVIF plugin reports libavif failures as RuntimeError, in open() as well as in load().
_CORRUPT_DATA_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
    RuntimeError,
)
# What a malformed EXIF block can raise while its orientation is read.
_EXIF_ERRORS = (SyntaxError, ValueError, struct.error, IndexError, KeyError, TypeError)
_WHITE = (255, 255, 255)
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
_RANGE_MODES = frozenset({"I", "F"})
_PLAIN_MODES = frozenset({"1", "L", "P", "YCbCr", "LAB", "HSV", "RGBX"})

_optional_formats: tuple[str, ...] | None = None
_register_lock = threading.Lock()


def register_optional_formats() -> list[str]:
    """Register decoders for formats Pillow lacks natively; safe to call any number of times.

    HEIC/HEIF comes from pillow_heif when it is installed; AVIF is native in Pillow >= 11.3.
    Returns the names of the extra formats now readable, e.g. ["heif", "avif"].
    """
    global _optional_formats
    if _optional_formats is None:
        with _register_lock:
            if _optional_formats is None:
                _optional_formats = _register_formats()
    return list(_optional_formats)


def _register_formats() -> tuple[str, ...]:
    found = []
    if _register_heif():
        found.append("heif")
    # features.check() warns about names it does not know, as older Pillows do not know avif
    if "avif" in features.modules and features.check_module("avif"):
        found.append("avif")
    return tuple(found)


def _register_heif() -> bool:
    try:
        import pillow_heif
    except (ImportError, OSError):  # OSError: installed, but its libheif fails to load
        return False
    pillow_heif.register_heif_opener()
    return True


def open_image(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open an image lazily: the header is parsed, no pixel is decoded yet.

    source is a path, the file's bytes or a binary file object (left open; Pillow needs it
    until decode_rgb). Raises ImageDecodeError when the file cannot be read, is empty, is not
    an image Pillow can identify, or has more than max_pixels pixels.
    """
    register_optional_formats()
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
    try:
        with _quiet_pillow():
            image = Image.open(source)
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(_unidentified_message(source)) from exc
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        raise ImageDecodeError(f"cannot open file: {exc.strerror or exc}") from exc
    except Image.DecompressionBombError as exc:
        raise _too_large_for_pillow(exc) from exc
    except _CORRUPT_DATA_ERRORS as exc:
        raise ImageDecodeError(f"truncated or corrupt image data: {exc}") from exc
    try:
        _check_pixels(image.size, max_pixels)
    except ImageDecodeError:
        image.close()
        raise
    return image


@contextmanager
def _quiet_pillow() -> Iterator[None]:
    # Our own pixel check replaces Pillow's bomb warning (it would contradict a raised
    # max_pixels), and Pillow's UserWarnings about odd but readable files ("Corrupt EXIF data")
    # would only reach stderr: the caller learns of real failures through ImageDecodeError.
    # catch_warnings is not thread-safe before Python 3.14; at worst these filters outlive a
    # call, which only keeps Pillow quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        yield


def _too_large_for_pillow(exc: Image.DecompressionBombError) -> ImageDecodeError:
    # Pillow errors at twice its own Image.MAX_IMAGE_PIXELS whatever max_pixels says
    return ImageDecodeError(f"image too large for Pillow (PIL.Image.MAX_IMAGE_PIXELS): {exc}")


def _unidentified_message(source: object) -> str:
    if _is_empty(source):
        return "empty file: it holds no image data"
    hint = "" if "heif" in register_optional_formats() else " (HEIC needs pillow-heif installed)"
    return f"not an image file Pillow can read: unknown format or corrupt header{hint}"


def _is_empty(source: object) -> bool:
    try:
        if isinstance(source, (str, os.PathLike)):
            return os.path.getsize(source) == 0
        if isinstance(source, io.BytesIO):
            return source.getbuffer().nbytes == 0
    except OSError:
        pass
    return False


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"image has no pixels: its header says {width}x{height}")
    pixels = width * height
    if pixels > max_pixels:
        raise ImageDecodeError(
            f"image too large: {width}x{height} = {pixels:,} pixels ({pixels / 1e6:.1f} MP) "
            f"exceeds the limit of {max_pixels:,} pixels (PIXSEEK_MAX_IMAGE_PIXELS)"
        )


def decode_rgb(image: Image.Image, min_side: int | None = None) -> Image.Image:
    """Decode an image from open_image() into a new 8-bit RGB image, upright per its EXIF.

    With min_side, a JPEG is decoded by libjpeg at the smallest 1/2, 1/4 or 1/8 scale whose
    both sides stay >= min_side (several times faster than a full decode); other formats are
    decoded at full size. Transparent areas come out white; 16-bit and float pictures are
    scaled to 0..255 rather than clipped; multi-frame files give their first frame. The input
    may be consumed (drafted, loaded). Raises ImageDecodeError for corrupt or truncated data and
    for modes that have no RGB meaning.
    """
    if min_side is not None and min_side < 1:
        raise ValueError(f"min_side must be >= 1, got {min_side}")
    with _decoding_errors():
        if image.tell() != 0:
            image.seek(0)  # before any draft: seeking rebuilds the tile a draft has scaled
        if min_side is not None:
            _draft(image, min_side)
        image.load()
    return _to_rgb(_upright(image))


def _draft(image: Image.Image, min_side: int) -> None:
    # JpegImageFile.draft() takes the largest scale s in (8, 4, 2, 1) with s <= both
    # width // min_side and height // min_side, so neither side drops below min_side.
    # It must run before load(); on a loaded image it is a no-op. MPO is a JpegImageFile too.
    if isinstance(image, JpegImageFile):
        image.draft("RGB", (min_side, min_side))


@contextmanager
def _decoding_errors() -> Iterator[None]:
    try:
        with _quiet_pillow():
            yield
    except Image.DecompressionBombError as exc:
        raise _too_large_for_pillow(exc) from exc
    except _CORRUPT_DATA_ERRORS as exc:
        raise ImageDecodeError(f"truncated or corrupt image data: {exc}") from exc


def _upright(image: Image.Image) -> Image.Image:
    """A new image, detached from the file, turned as its EXIF orientation says."""
    # Pillow turns TIFFs while loading them, and pillow_heif applies HEIF's own rotation; both
    # drop the orientation tag as they do, so no picture is turned twice.
    try:
        return ImageOps.exif_transpose(image)
    except _EXIF_ERRORS:
        # a malformed EXIF block must not cost us the picture; it stays as stored
        return image.copy()


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        return _gray_to_rgb(np.asarray(image) >> 8)
    if mode in _RANGE_MODES:
        return _gray_to_rgb(_stretch(np.asarray(image, dtype=np.float32)))
    if mode == "La":  # premultiplied; Pillow converts it to nothing but LA
        image = image.convert("LA")
    if image.has_transparency_data:
        return _over_white(image)
    if mode == "RGB":
        return image
    if mode == "CMYK":
        return _cmyk_to_rgb(image)
    if mode in _PLAIN_MODES:
        return image.convert("RGB")
    raise ImageDecodeError(f"unsupported image mode {mode}: it has no RGB interpretation")


def _gray_to_rgb(gray: np.ndarray) -> Image.Image:
    return Image.fromarray(gray.astype(np.uint8)).convert("RGB")


def _stretch(values: np.ndarray) -> np.ndarray:
    """Map the finite range of values onto 0..255; NaN and infinities become black."""
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, np.uint8)
    low, high = float(values[finite].min()), float(values[finite].max())
    if high <= low:  # a flat picture has no range to stretch; keep its value where it fits
        return np.full(values.shape, np.clip(np.rint(low), 0, 255), np.uint8)
    scaled = (np.where(finite, values, low) - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _over_white(image: Image.Image) -> Image.Image:
    # convert() would drop alpha and leave transparent pixels with whatever colour they hold,
    # often black; a photo viewer shows the page behind them, which is white
    rgba = image.convert("RGBA")
    out = Image.new("RGB", rgba.size, _WHITE)
    out.paste(rgba, mask=rgba.getchannel("A"))
    return out


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    profile = image.info.get("icc_profile")
    if profile:
        try:
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(
                image, io.BytesIO(profile), srgb, outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # broken or non-CMYK profiles are common in the wild; the naive formula is fine
        else:
            if converted is not None:
                return converted
    return image.convert("RGB")
