"""Finding image files under library folders."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pixseek.errors import PathNotFoundError
from pixseek.photos.formats import IMAGE_SUFFIXES, why_not_read
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


@dataclass
class Scanned:
    """What a scan found: image files (sorted), and the other files it passed over with why."""

    images: list[FileState] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, "unsupported: …")


def scan(roots: Iterable[str], skip: Path | None = None) -> Scanned:
    """Image files at or under roots (by suffix; content is checked when decoding), sorted, and
    the files passed over for their type.

    Hidden files and folders are left out, and so is skip (the data directory, when it lies
    inside a library).
    """
    found: dict[str, FileState] = {}
    passed_over: dict[str, str] = {}
    for root in roots:
        for path in _walk(Path(root), skip):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                passed_over[str(path)] = why_not_read(path.suffix)
                continue
            try:
                stat = path.stat()
            except OSError:
                continue  # vanished or unreadable between listing and stat: the next run sees it
            found[str(path)] = FileState(str(path), stat.st_size, stat.st_mtime_ns)
    return Scanned(
        [found[key] for key in sorted(found)],
        [(key, passed_over[key]) for key in sorted(passed_over)],
    )


def _walk(root: Path, skip: Path | None) -> Iterator[Path]:
    """Every file not hidden at or under root, but not under skip."""
    if root.is_file():
        yield root
        return
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and Path(folder, d) != skip]
        for name in filenames:
            if not name.startswith("."):
                yield Path(folder, name)
