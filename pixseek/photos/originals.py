"""Opening a photo's file for a viewer: only a file inside the library, still the one indexed.

A photo's payload names the paths that held its content when it was indexed. What lies at such
a path now may be something else: the file was edited, replaced, or turned into a symlink to
/etc/passwd or to the data directory's users.sqlite3. So a path is opened, and only then
checked, on the open file itself (no window for a swap between check and use):

- its real path (where the opened descriptor leads, symlinks resolved) lies inside a library
  folder or the uploads store;
- it is the indexed content: the same size and modification time as the catalog recorded,
  or, when those changed, the same SHA-256 as the photo.

A path that fails is reported as stale, so the caller can queue a rescan of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pixseek.errors import NotFoundError
from pixseek.photos.identity import file_sha256
from pixseek.store.catalog import Catalog


@dataclass
class OpenedOriginal:
    """A photo's file, open for reading, checked; close it (or hand it to a response)."""

    file: BinaryIO
    path: str  # the indexed path it was opened by
    size: int
    mtime: float

    def close(self) -> None:
        self.file.close()


class StaleOriginalError(NotFoundError):
    """No path of the photo leads to its indexed file any more; stale: the paths to rescan."""

    def __init__(self, message: str, stale: list[str]) -> None:
        super().__init__(message)
        self.stale = stale


def allowed_roots(catalog: Catalog, uploads_dir: Path) -> list[str]:
    """Where served files may lie: every library folder and the uploads store, resolved."""
    return [os.path.realpath(root) for root in [*catalog.roots(), str(uploads_dir)]]


def open_original(
    payload: dict[str, Any], catalog: Catalog, roots: Sequence[str]
) -> OpenedOriginal:
    """The first of the photo's paths that opens as its indexed file, inside roots.

    Raises StaleOriginalError (a NotFoundError) when none does, naming the photo's paths (gone,
    changed, or leading out of the library) for a rescan."""
    sha256 = str(payload.get("sha256", ""))
    stale: list[str] = []
    for path in payload.get("paths") or []:
        opened = _open_checked(str(path), sha256, catalog, roots)
        if opened is not None:
            return opened
        stale.append(str(path))
    raise StaleOriginalError(
        "the photo's file is gone from disk or changed since it was indexed; a rescan will "
        "bring the index up to date",
        stale,
    )


def _open_checked(
    path: str, sha256: str, catalog: Catalog, roots: Sequence[str]
) -> OpenedOriginal | None:
    try:
        file = open(path, "rb")  # noqa: SIM115 (handed to the caller, or closed below)
    except OSError:
        return None
    try:
        stat = os.fstat(file.fileno())
        if _inside(_real_path(file, path), roots) and _is_indexed_content(
            file, path, stat, sha256, catalog
        ):
            return OpenedOriginal(file, path, stat.st_size, stat.st_mtime)
    except OSError:
        pass
    file.close()
    return None


def _real_path(file: BinaryIO, path: str) -> str:
    """Where the open descriptor leads: from /proc on Linux (no race with a swapped link),
    else the path resolved now."""
    try:
        return os.readlink(f"/proc/self/fd/{file.fileno()}")
    except OSError:
        return os.path.realpath(path)


def _inside(real: str, roots: Iterable[str]) -> bool:
    return any(real == root or real.startswith(root.rstrip("/") + "/") for root in roots)


def _is_indexed_content(
    file: BinaryIO, path: str, stat: os.stat_result, sha256: str, catalog: Catalog
) -> bool:
    record = catalog.records_under([path]).get(path)
    unchanged = record is not None and (record.size, record.mtime_ns) == (
        stat.st_size,
        stat.st_mtime_ns,
    )
    if unchanged and record is not None and record.sha256 == sha256:
        return True
    # touched, copied with new times, or never recorded by this path: the content decides
    return bool(sha256) and file_sha256(file) == sha256
