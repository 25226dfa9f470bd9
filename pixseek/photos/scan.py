"""Finding image files under library folders."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from pixseek.errors import PathNotFoundError
from pixseek.photos.formats import IMAGE_SUFFIXES
from pixseek.store.catalog import FileState


def resolve_roots(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Absolute, existing library roots; raise PathNotFoundError naming any that does not exist."""
    roots = []
    for path in paths:
        resolved = Path(path).expanduser().resolve()
        if not resolved.exists():
            raise PathNotFoundError(f"no such file or folder: {path}")
        roots.append(str(resolved))
    return roots


def scan(roots: Iterable[str], skip: Path | None = None) -> list[FileState]:
    """Image files at or under roots (by suffix; content is checked when decoding), sorted.

    Hidden files and folders are left out, and so is skip (the data directory, when it lies
    inside a library).
    """
    found: dict[str, FileState] = {}
    for root in roots:
        for path in _walk(Path(root), skip):
            try:
                stat = path.stat()
            except OSError:
                continue  # vanished or unreadable between listing and stat: the next run sees it
            found[str(path)] = FileState(str(path), stat.st_size, stat.st_mtime_ns)
    return [found[key] for key in sorted(found)]


def _walk(root: Path, skip: Path | None) -> Iterator[Path]:
    if root.is_file():
        if root.suffix.lower() in IMAGE_SUFFIXES:
            yield root
        return
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and Path(folder, d) != skip]
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                yield Path(folder, name)
