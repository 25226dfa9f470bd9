"""Uploaded photos: a content-addressed store under the data directory.

A file is streamed to a hidden temporary file (hidden, so a scan of the store never picks up a
half-written upload), hashed as it goes, checked to be an image by its content, then linked to
uploads/ab/<sha256>.<ext>. The name the client sent is never used: it decides nothing.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from PIL import UnidentifiedImageError

from embed import ImageDecodeError
from embed.decode import open_image
from pixseek.errors import UploadError

__all__ = ["StoredUpload", "UploadError", "store_upload"]

CHUNK = 1 << 20
# Pillow format -> (the format name pixseek records, the stored file's suffix)
FORMATS = {
    "JPEG": ("jpeg", ".jpg"),
    "MPO": ("jpeg", ".jpg"),  # a JPEG holding more than one picture
    "PNG": ("png", ".png"),
    "WEBP": ("webp", ".webp"),
    "GIF": ("gif", ".gif"),
    "BMP": ("bmp", ".bmp"),
    "TIFF": ("tiff", ".tif"),
    "HEIF": ("heif", ".heic"),
    "AVIF": ("avif", ".avif"),
}


@dataclass(frozen=True)
class StoredUpload:
    """An upload in the store."""

    sha256: str
    path: Path  # uploads_dir/ab/<sha256>.<ext>
    format: str  # lower-case Pillow format name, e.g. "jpeg"
    created: bool  # False when that content was stored already


def store_upload(
    stream: IO[bytes], uploads_dir: Path, max_bytes: int, max_pixels: int
) -> StoredUpload:
    """Copy an uploaded file into the content-addressed store. The type is decided by content
    (Pillow), never by the file name.

    Raises UploadError when the file is larger than max_bytes, is not an image of a supported
    format, or has more than max_pixels pixels; nothing is left behind then.
    """
    uploads_dir.mkdir(parents=True, exist_ok=True)
    temp = uploads_dir / f".upload-{uuid.uuid4().hex}.tmp"
    try:
        # os.open with 0o666 honours the umask, unlike tempfile's private 0o600 files, so a
        # worker running as another user can read what the web app stored
        with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as out:
            sha256 = _copy(stream, out, max_bytes)
        pillow_format = _image_format(temp, max_pixels)
        name_format, suffix = FORMATS[pillow_format]
        target = uploads_dir / sha256[:2] / f"{sha256}{suffix}"
        return StoredUpload(sha256, target, name_format, _place(temp, target))
    finally:
        temp.unlink(missing_ok=True)


def _copy(stream: IO[bytes], out: BinaryIO, max_bytes: int) -> str:
    """Copy in chunks, stopping as soon as the limit is passed; the content's hex SHA-256."""
    digest = hashlib.sha256()
    total = 0
    while chunk := stream.read(CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise UploadError(f"larger than the limit of {_megabytes(max_bytes)} MB")
        digest.update(chunk)
        out.write(chunk)
    if total == 0:
        raise UploadError("empty file: it holds no image data")
    return digest.hexdigest()


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


def _image_format(path: Path, max_pixels: int) -> str:
    """The Pillow format of an image file pixseek can index, from its content."""
    try:
        with open_image(path, max_pixels) as image:
            found = image.format or ""
    except ImageDecodeError as exc:
        if isinstance(exc.__cause__, UnidentifiedImageError):
            raise UploadError("not an image file (or a format pixseek cannot read)") from exc
        raise UploadError(str(exc)) from exc
    if found not in FORMATS:
        known = ", ".join(sorted({name for name, _ in FORMATS.values()}))
        raise UploadError(f"unsupported image format {found.lower() or 'unknown'}; use {known}")
    return found


def _place(temp: Path, target: Path) -> bool:
    """Put the file at target unless that content is there already; whether it was put."""
    target.parent.mkdir(exist_ok=True)
    try:
        # a hard link never replaces: of two uploads of the same content, one creates the file
        os.link(temp, target)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links
        if target.exists():
            return False
        os.replace(temp, target)
    return True
