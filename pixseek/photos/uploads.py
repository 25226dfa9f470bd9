"""Uploaded photos: a content-addressed store under the data directory.

Each file of an upload is written, as its bytes arrive, to a hidden temporary file in the store
(hidden, so a scan of the store never picks up a half-written upload), hashed and measured as it
goes and refused the moment it passes the size limit. It is then checked to be an image by its
content, and linked to uploads/ab/<sha256>/<name>: one folder per content, the file under the
name the client sent (cleaned: no folders, no leading dot, the suffix of its real type), so the
photo shows, searches and downloads as the person named it. The name decides nothing else.

A file that is an image and also reads as a web page or a script (an HTML tag, or a GIF/JS
polyglot) is refused: pixseek serves uploads back to browsers, and even with the right
content type and nosniff such a file is a foothold for a script.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from PIL import UnidentifiedImageError

from embed import ImageDecodeError
from embed.decode import open_image
from pixseek.errors import UploadError, UploadTooLargeError
from pixseek.photos.formats import NAMES, ImageFormat, of_pillow

__all__ = [
    "IncomingFile",
    "StoredUpload",
    "UploadError",
    "UploadReceiver",
    "UploadTooLargeError",
    "place_upload",
    "store_upload",
]

CHUNK = 1 << 20
# What makes a browser treat bytes as a page or a script: only tags long enough (6 bytes and
# more) that image data holds one by chance about once in 10^12 bytes or less; "<a " turned up
# in an uncompressed BMP of a textured picture.
_ACTIVE_CONTENT = re.compile(
    rb"<(?:script|html|iframe|object|embed)[\s/>]|<!doctype\s+html|javascript:",
    re.IGNORECASE,
)
_LONGEST_MARKER = 16  # bytes kept from one chunk to the next, so no marker is cut in two
# Image signatures that are also JavaScript identifiers: followed by a comment opener, the
# binary rest can hide inside the comment and the file runs as a script (GIF/JS polyglots).
_SCRIPT_SIGNATURES = (b"GIF87a", b"GIF89a", b"BM", b"RIFF")
_COMMENT_OPENERS = (b"/*", b"//")


@dataclass(frozen=True)
class StoredUpload:
    """An upload in the store."""

    sha256: str
    path: Path  # uploads_dir/ab/<sha256>/<name>
    format: str  # lower-case Pillow format name, e.g. "jpeg"
    created: bool  # False when that content was stored already


class IncomingFile:
    """One uploaded file being received: a writable file in the store, hashed and measured as
    it is written. A multipart parser writes into it (write, seek, read, as a spooled file)."""

    def __init__(self, uploads_dir: Path, max_bytes: int, name: str | None = None) -> None:
        self.client_name = name  # as sent; only ever a display name (stored_name)
        self.name = name or "the file"
        self.path = uploads_dir / f".upload-{uuid.uuid4().hex}.tmp"
        self.size = 0
        self._max_bytes = max_bytes
        self._digest = hashlib.sha256()
        self._head = b""  # the first bytes, for the signature check
        self._tail = b""  # the last bytes of the previous chunk, for markers across chunks
        self._active = False
        # os.open with 0o666 honours the umask, unlike tempfile's private 0o600 files, so a
        # worker running as another user can read what the web app stored
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        self._file: IO[bytes] = os.fdopen(descriptor, "w+b")

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self._max_bytes:
            raise UploadTooLargeError(
                f"{self.name}: larger than the limit of {_megabytes(self._max_bytes)} MB"
            )
        self._digest.update(data)
        self._look_for_active_content(data)
        return self._file.write(data)

    def _look_for_active_content(self, data: bytes) -> None:
        if len(self._head) < 8:
            self._head = (self._head + data)[:8]
        window = self._tail + data
        self._active = self._active or _ACTIVE_CONTENT.search(window) is not None
        self._tail = window[-_LONGEST_MARKER:]

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def flush(self) -> None:
        self._file.flush()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    @property
    def runs_in_a_browser(self) -> bool:
        """Whether these bytes hold HTML or open as a script (see the module's docstring)."""
        script_like = any(
            self._head.startswith(sign) and self._head[len(sign) :][:2] in _COMMENT_OPENERS
            for sign in _SCRIPT_SIGNATURES
        )
        return self._active or script_like

    def close(self) -> None:
        self._file.close()

    def discard(self) -> None:
        """Close and remove the temporary file (a placed upload has its own link by then)."""
        self._file.close()
        self.path.unlink(missing_ok=True)


class UploadReceiver:
    """The files of one upload request as they arrive: open() gives each its IncomingFile
    (a stream factory for a multipart parser); close() removes what was not placed."""

    def __init__(self, uploads_dir: Path, max_bytes: int) -> None:
        uploads_dir.mkdir(parents=True, exist_ok=True)
        self.uploads_dir = uploads_dir
        self.max_bytes = max_bytes
        self._files: list[IncomingFile] = []

    def open(self, name: str | None = None) -> IncomingFile:
        incoming = IncomingFile(self.uploads_dir, self.max_bytes, name)
        self._files.append(incoming)
        return incoming

    def close(self) -> None:
        for incoming in self._files:
            incoming.discard()
        self._files = []


def store_upload(
    stream: IO[bytes],
    uploads_dir: Path,
    max_bytes: int,
    max_pixels: int,
    name: str | None = None,
    modified: float | None = None,
) -> StoredUpload:
    """Copy an uploaded file from a stream into the content-addressed store (place_upload)."""
    receiver = UploadReceiver(uploads_dir, max_bytes)
    try:
        incoming = receiver.open(name)
        while chunk := stream.read(CHUNK):
            incoming.write(chunk)
        return place_upload(incoming, max_pixels, modified)
    finally:
        receiver.close()


def place_upload(
    incoming: IncomingFile, max_pixels: int, modified: float | None = None
) -> StoredUpload:
    """Put a received file into the store under its content hash, named as it was sent. The
    type is decided by content (Pillow), never by the file name. modified (seconds since the
    epoch: the browser's lastModified) becomes the stored file's mtime, which stands in for the
    date taken of a photo without one.

    Raises UploadError when the file is empty, is not an image of a supported format, has more
    than max_pixels pixels, or would run in a browser; nothing is left in the store then. The
    incoming file's temporary name is the caller's to discard (UploadReceiver.close)."""
    incoming.close()
    if incoming.size == 0:
        raise UploadError("empty file: it holds no image data")
    if incoming.runs_in_a_browser:
        raise UploadError(
            "the file holds HTML or script as well as a picture (a polyglot); save it again "
            "from an image editor"
        )
    found = _image_format(incoming.path, max_pixels)
    sha256 = incoming.sha256
    folder = incoming.path.parent / sha256[:2] / sha256
    name = stored_name(incoming.client_name, found, sha256)
    placed = _place(incoming.path, folder, name)
    if placed.created and modified is not None:
        os.utime(placed.path, (placed.path.stat().st_atime, modified))
    return StoredUpload(sha256, placed.path, found.name, placed.created)


MAX_NAME_BYTES = 200  # file systems take 255; room for the suffix and a margin


def stored_name(sent: str | None, found: ImageFormat, sha256: str) -> str:
    """The file name an upload is stored under: the name sent, without any folder, control
    character or leading dot (a hidden file is not scanned), at most MAX_NAME_BYTES of UTF-8,
    with the suffix of its real format (photo.png holding a JPEG becomes photo.png.jpg); the
    content hash when nothing is left."""
    base = (sent or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable()).strip().lstrip(".").strip()
    stem, dot, suffix = base.rpartition(".")
    if dot and f".{suffix.lower()}" in found.suffixes:
        base, suffix = stem, f".{suffix}"
    else:
        suffix = found.suffixes[0]
    base = base.encode()[:MAX_NAME_BYTES].decode(errors="ignore").strip() or sha256
    return base + suffix


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


def _image_format(path: Path, max_pixels: int) -> ImageFormat:
    """The format of an image file pixseek can index, from its content."""
    try:
        with open_image(path, max_pixels) as image:
            found = image.format or ""
    except ImageDecodeError as exc:
        if isinstance(exc.__cause__, UnidentifiedImageError):
            raise UploadError("not an image file (or a format pixseek cannot read)") from exc
        raise UploadError(str(exc)) from exc
    known = of_pillow(found)
    if known is None:
        names = ", ".join(sorted(NAMES))
        raise UploadError(f"unsupported image format {found.lower() or 'unknown'}; use {names}")
    return known


@dataclass(frozen=True)
class _Placed:
    path: Path
    created: bool


def _place(temp: Path, folder: Path, name: str) -> _Placed:
    """Put the file in its content's folder, unless that content is there already (under
    whatever name it came first): the file there, and whether it was put now. Uploads of one
    content at once take turns (a lock on its folder), so exactly one of them stores it."""
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        there = sorted(folder.iterdir())
        if there:
            return _Placed(there[0], False)
        target = folder / name
        try:
            os.link(temp, target)  # the temporary name goes when the receiver closes
        except OSError:  # a file system without hard links
            os.replace(temp, target)
        return _Placed(target, True)
    finally:
        os.close(descriptor)  # and with it the lock
