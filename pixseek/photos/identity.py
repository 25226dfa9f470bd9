"""Photo identity and payload: point ids from content hashes, payload fields from metadata."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import PurePath
from typing import Any, BinaryIO

import imagehash
from PIL import Image

from pixseek.photos.metadata import PhotoMetadata
from pixseek.photos.places import place_fields

POINT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "pixseek:photo")
HASH_CHUNK = 1 << 20


def point_id(sha256: str) -> str:
    """The index id of a photo: UUID5 of its content hash, so every upsert is idempotent."""
    return str(uuid.uuid5(POINT_NAMESPACE, sha256))


def file_sha256(source: str | os.PathLike[str] | BinaryIO) -> str:
    """Hex SHA-256 of a file's content, read in chunks: by its path, or from an open file
    (read from where it stands to its end, then put back at the start)."""
    if not isinstance(source, (str, os.PathLike)):
        digest = hashlib.sha256()
        while chunk := source.read(HASH_CHUNK):
            digest.update(chunk)
        source.seek(0)
        return digest.hexdigest()
    with open(source, "rb") as handle:
        return file_sha256(handle)


# Perceptual hashes are taken of a small grey copy: both look at 32x32 (pHash) or 9x8 (dHash)
# pixels in the end, and reducing a large decode to 64x64 first keeps them under a millisecond.
HASH_INPUT_SIDE = 64


def perceptual_hashes(image: Image.Image) -> dict[str, str]:
    """The payload's perceptual hashes of a decoded photo, 64 bits each as 16 hex digits:
    phash (DCT of the 32x32 grey image) and dhash (brightness gradients), close in Hamming
    distance for resized, recompressed and lightly edited copies (pixseek/quality)."""
    side = (HASH_INPUT_SIDE, HASH_INPUT_SIDE)
    # resized before the grey conversion: converting the full decode cost 8 ms of the 9
    grey = image.resize(side, Image.Resampling.BILINEAR, reducing_gap=2.0).convert("L")
    return {"phash": str(imagehash.phash(grey)), "dhash": str(imagehash.dhash(grey))}


def path_fields(paths: Sequence[str]) -> dict[str, Any]:
    """Payload fields that depend on where the photo lies (all its copies)."""
    first = PurePath(paths[0])
    return {
        "paths": list(paths),
        "folder": str(first.parent),
        "filename": first.name,
        "folders": sorted({str(parent) for p in paths for parent in PurePath(p).parents}),
    }


def build_payload(
    sha256: str,
    paths: Sequence[str],
    size: int,
    meta: PhotoMetadata,
    source: str = "library",
    hashes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The full payload of a photo's point (schema in docs/architecture.md); hashes: its
    perceptual_hashes, when known."""
    return (hashes or {}) | {
        "sha256": sha256,
        **path_fields(paths),
        "format": meta.format,
        "bytes": size,
        "width": meta.width,
        "height": meta.height,
        "shape": meta.shape,
        "taken_at": meta.taken_at,
        "taken_at_offset": meta.taken_at_offset,
        "taken_at_source": meta.taken_at_source,
        "camera_make": meta.camera_make,
        "camera_model": meta.camera_model,
        "camera_keys": meta.camera_keys(),
        "lens": meta.lens,
        "gps": meta.gps,
        **place_fields(meta.gps),
        "title": meta.title,
        "description": meta.description,
        "keywords": list(meta.keywords),
        "artist": meta.artist,
        "tags": [],
        "source": source,
        "indexed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
