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

from embed import libtiff
from embed.errors import ImageDecodeError
from embed.memory import decode_budget
from embed.raw import is_raw, open_raw

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
# Output rows per strip when reducing: 16 rows of a 13000x13000 picture reduced by 58 are 928
# input rows, whose converted copy is 48 MB at 4 bytes a pixel.
_REDUCE_STRIP_ROWS = 16
# What a decoder holds beside the pixels (zlib window, libtiff strips, a row of filters);
# measured under 10 MB for 3000x3000 PNGs of every mode.
_DECODER_WORKSPACE = 16 * 1024 * 1024
_ORIENTATION_TAG = 0x0112
_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_optional_formats: tuple[str, ...] | None = None
_register_lock = threading.Lock()


def register_optional_formats() -> list[str]:
    """Register decoders for formats Pillow lacks natively; safe to call any number of times.

    HEIC/HEIF comes from pillow_heif when it is installed, JPEG XL from pillow_jxl
    (pillow-jxl-plugin); AVIF is native in Pillow >= 11.3. Returns the names of the extra
    formats now readable, e.g. ["heif", "avif", "jxl"]. Also keeps libtiff quiet (embed.libtiff).
    """
    global _optional_formats
    if _optional_formats is None:
        with _register_lock:
            if _optional_formats is None:
                _optional_formats = _register_formats()
    return list(_optional_formats)


def _register_formats() -> tuple[str, ...]:
    libtiff.install()  # libtiff's messages into failure reasons, not onto stderr
    found = []
    if _register_heif():
        found.append("heif")
    # features.check() warns about names it does not know, as older Pillows do not know avif
    if "avif" in features.modules and features.check_module("avif"):
        found.append("avif")
    if _register_jxl():
        found.append("jxl")
    return tuple(found)


def _register_heif() -> bool:
    try:
        import pillow_heif
    except (ImportError, OSError):  # OSError: installed, but its libheif fails to load
        return False
    pillow_heif.register_heif_opener()
    return True


def _register_jxl() -> bool:
    try:
        import pillow_jxl  # noqa: F401  (importing it registers the JXL plugin)
    except (ImportError, OSError):
        return False
    return True


def open_image(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open an image lazily: the header is parsed, no pixel is decoded yet.

    source is a path, the file's bytes or a binary file object (left open; Pillow needs it
    until decode_rgb). A path with a camera RAW suffix is read through LibRaw (embed/raw.py).
    Raises ImageDecodeError when the file cannot be read, is empty, is not an image Pillow
    can identify, or has more than max_pixels pixels.
    """
    register_optional_formats()
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
    with libtiff.messages() as said:
        try:
            with _quiet_pillow():
                image = open_raw(source, max_pixels) if is_raw(source) else Image.open(source)
        except UnidentifiedImageError as exc:
            raise ImageDecodeError(_unidentified_message(source)) from exc
        except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
            raise ImageDecodeError(f"cannot open file: {exc.strerror or exc}") from exc
        except Image.DecompressionBombError as exc:
            raise _too_large_for_pillow(exc) from exc
        except _CORRUPT_DATA_ERRORS as exc:
            raise ImageDecodeError(_corrupt_message(exc, said)) from exc
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


def decode_rgb(
    image: Image.Image, min_side: int | None = None, max_decoded_pixels: int | None = None
) -> Image.Image:
    """Decode an image from open_image() into a new 8-bit RGB image, upright per its EXIF.

    With min_side, the picture is decoded at the smallest scale whose both sides stay >=
    min_side: a JPEG by libjpeg at 1/2, 1/4 or 1/8 scale (several times faster than a full
    decode), any other format decoded whole, then reduced by an integer factor (a box filter),
    strip by strip, before any conversion, so a picture is held at full size only once, in the
    mode its file stores. Transparent areas come out white; 16-bit and float pictures are
    scaled to 0..255 rather than clipped; multi-frame files give their first frame. The input
    may be consumed (drafted, loaded).

    Every decode reserves its memory from this process's DecodeBudget (embed/memory.py) and
    waits while other decodes hold it. With max_decoded_pixels, a picture that would still
    decode to more pixels than that after drafting is refused before any pixel is decoded.

    Raises ImageDecodeError for corrupt or truncated data, for pictures over
    max_decoded_pixels, and for modes that have no RGB meaning.
    """
    if min_side is not None and min_side < 1:
        raise ValueError(f"min_side must be >= 1, got {min_side}")
    with _decoding_errors():
        if image.tell() != 0:
            image.seek(0)  # before any draft: seeking rebuilds the tile a draft has scaled
        if min_side is not None:
            _draft(image, min_side)
    if max_decoded_pixels is not None:
        _check_decoded_pixels(image.size, max_decoded_pixels)
    factor = _reduce_factor(image, min_side)
    with decode_budget().reserve(decode_cost(image.size, image.mode, factor)):
        with _decoding_errors():
            image.load()
            if factor > 1:  # cropping a strip checks the picture's size again: stay quiet
                return _to_rgb(_transposed(_reduced(image, factor), _orientation(image)))
        return _to_rgb(_upright(image))


def decode_cost(size: tuple[int, int], mode: str, factor: int = 1) -> int:
    """Bytes a decode holds at its peak: the picture as stored (Pillow keeps 1, 2 or 4 bytes a
    pixel), and unreduced, its upright, converted and composited copies (4 bytes a pixel each,
    at most three at once: RGBA over white)."""
    pixels = size[0] * size[1]
    stored = pixels * _pixel_bytes(mode) + _DECODER_WORKSPACE
    if factor > 1:
        return stored + _REDUCE_STRIP_ROWS * factor * size[0] * 4 + pixels * 4 // factor**2
    return stored + pixels * 4 * 3


def _pixel_bytes(mode: str) -> int:
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode in _SIXTEEN_BIT_MODES else 4


def _check_decoded_pixels(size: tuple[int, int], limit: int) -> None:
    width, height = size
    if width * height > limit:
        raise ImageDecodeError(
            f"image too large to decode here: {width}x{height} = {width * height / 1e6:.1f} MP "
            f"at the smallest scale this format decodes to; the limit is {limit / 1e6:.1f} MP "
            "(send a smaller copy)"
        )


def _reduce_factor(image: Image.Image, min_side: int | None) -> int:
    """The largest integer factor that keeps both sides >= min_side (1: no reduction). A JPEG
    is drafted instead: at 1/8 even one at the pixel limit is small."""
    if min_side is None or isinstance(image, JpegImageFile):
        return 1
    return max(min(image.size) // min_side, 1)


def _reduced(image: Image.Image, factor: int) -> Image.Image:
    """The loaded image reduced by factor (box filter), a strip of rows at a time: a mode that
    must be converted first (palette, 1-bit, 16-bit) is converted one strip at a time, so no
    second full-size copy is ever made. Keeps the image's info (ICC profile, EXIF)."""
    width, height = image.size
    rows = _REDUCE_STRIP_ROWS * factor
    reduced: Image.Image | None = None
    for top in range(0, height, rows):
        strip = _reducible(image.crop((0, top, width, min(top + rows, height)))).reduce(factor)
        if reduced is None:
            size = (-(-width // factor), -(-height // factor))
            reduced = Image.new(strip.mode, size)
        reduced.paste(strip, (0, top // factor))
    assert reduced is not None, "an image has at least one row"
    reduced.info = dict(image.info)
    return reduced


def _reducible(strip: Image.Image) -> Image.Image:
    """The strip in a mode whose pixels can be averaged, meaning the same picture."""
    mode = strip.mode
    if mode in ("P", "PA"):  # averaging palette indices would mix unrelated colours
        return strip.convert("RGBA" if strip.has_transparency_data else "RGB")
    if mode == "1":
        return strip.convert("L")
    if mode in _SIXTEEN_BIT_MODES:  # as _to_rgb maps them: the high byte
        return Image.fromarray((np.asarray(strip) >> 8).astype(np.uint8))
    return strip


def _draft(image: Image.Image, min_side: int) -> None:
    # JpegImageFile.draft() takes the largest scale s in (8, 4, 2, 1) with s <= both
    # width // min_side and height // min_side, so neither side drops below min_side.
    # It must run before load(); on a loaded image it is a no-op. MPO is a JpegImageFile too.
    if isinstance(image, JpegImageFile):
        image.draft("RGB", (min_side, min_side))


@contextmanager
def _decoding_errors() -> Iterator[None]:
    with libtiff.messages() as said:
        try:
            with _quiet_pillow():
                yield
        except Image.DecompressionBombError as exc:
            raise _too_large_for_pillow(exc) from exc
        except _CORRUPT_DATA_ERRORS as exc:
            raise ImageDecodeError(_corrupt_message(exc, said)) from exc


def _corrupt_message(exc: BaseException, libtiff_said: list[str]) -> str:
    """Pillow's words, and libtiff's where it said more ("decoder error -2" alone says little)."""
    said = f" (libtiff: {'; '.join(libtiff_said)})" if libtiff_said else ""
    return f"truncated or corrupt image data: {exc}{said}"


def _upright(image: Image.Image) -> Image.Image:
    """A new image, detached from the file, turned as its EXIF orientation says."""
    # Pillow turns TIFFs while loading them, and pillow_heif applies HEIF's own rotation; both
    # drop the orientation tag as they do, so no picture is turned twice.
    try:
        return ImageOps.exif_transpose(image)
    except _EXIF_ERRORS:
        # a malformed EXIF block must not cost us the picture; it stays as stored
        return image.copy()


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation exif_transpose would apply to image (1: none)."""
    try:
        return int(image.getexif().get(_ORIENTATION_TAG, 1))
    except (*_EXIF_ERRORS, OSError):
        return 1


def _transposed(image: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE_FOR_ORIENTATION.get(orientation)
    return image.transpose(method) if method is not None else image


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
