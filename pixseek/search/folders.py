"""Folder filters by name: `trips` or `2019/japan` match the library's folders whose path ends
with those names (`/photos/trips`, `/backup/trips`), as a user types them, without the full path.

The library's folders are the values of the `folders` payload field (every ancestor of every
photo), read from the index with a facet and kept for a short while: a search with a folder
name costs one facet call at most every FOLDERS_TTL seconds per index.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import replace

from pixseek.index.base import SearchFilters, VectorIndex

FOLDERS_TTL = 30.0
MAX_FOLDERS = 200_000  # folders read from the index to match names against


class _KnownFolders:
    """The index's folder paths, read again after FOLDERS_TTL seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # by the index itself, not its id(): a closed index's id may name the next one
        self._read: weakref.WeakKeyDictionary[VectorIndex, tuple[float, list[str]]] = (
            weakref.WeakKeyDictionary()
        )

    def of(self, index: VectorIndex) -> list[str]:
        with self._lock:
            read_at, folders = self._read.get(index, (-FOLDERS_TTL, []))
            if time.monotonic() - read_at >= FOLDERS_TTL:
                folders = [value for value, _ in index.facet("folders", limit=MAX_FOLDERS)]
                self._read[index] = (time.monotonic(), folders)
            return folders


_known = _KnownFolders()


def known_folders(index: VectorIndex) -> list[str]:
    """Every folder of the library (each ancestor of each photo's paths), read at most every
    FOLDERS_TTL seconds."""
    return _known.of(index)


def shared_names(index: VectorIndex) -> set[str]:
    """The folder names (lower-case) more than one of the library's folders has: a folder
    name starting with one of them may match folders in several places."""
    seen: set[str] = set()
    shared: set[str] = set()
    for path in known_folders(index):
        name = path.rstrip("/").rsplit("/", 1)[-1].lower()
        (shared if name in seen else seen).add(name)
    return shared


def is_folder_name(folder: str) -> bool:
    """A folder as typed that is a name to look up, not a path (no leading / or ~)."""
    return not folder.startswith(("/", "~"))


def resolve_folder_names(filters: SearchFilters, index: VectorIndex) -> SearchFilters:
    """filters with each folder name replaced by the library's folders that end with it
    (case-insensitive, whole names only: `trips` matches `/a/trips`, not `/a/daytrips`). A
    name no folder ends with stays as it is, and so matches nothing."""
    if not any(is_folder_name(folder) for folder in filters.folders):
        return filters
    known = known_folders(index)
    resolved: list[str] = []
    for folder in filters.folders:
        if not is_folder_name(folder):
            resolved.append(folder)
            continue
        ending = "/" + folder.strip("/").lower()
        resolved.extend([path for path in known if path.lower().endswith(ending)] or [folder])
    return replace(filters, folders=tuple(dict.fromkeys(resolved)))
