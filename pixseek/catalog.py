"""The catalog: what pixseek knows of each library file, in SQLite beside the index.

It makes indexing incremental (an unchanged file is skipped by size and mtime), remembers
failures with their reasons, and maps content hashes to the paths holding them. The index is
written before the catalog, so after a crash the catalog never claims a point that is missing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT,
    status TEXT NOT NULL CHECK (status IN ('indexed', 'failed')),
    model_id TEXT,
    error TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_sha256 ON files (sha256);
"""


@dataclass(frozen=True)
class FileState:
    """A file as found on disk: its absolute path, size and modification time."""

    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class FileRecord:
    """What the catalog remembers of a file."""

    path: str
    size: int
    mtime_ns: int
    sha256: str | None
    status: str
    model_id: str | None
    error: str | None

    def is_current(self, state: FileState, model_id: str) -> bool:
        """Indexed by this model and not modified since."""
        return (
            self.status == "indexed"
            and self.model_id == model_id
            and (self.size, self.mtime_ns) == (state.size, state.mtime_ns)
        )


class Catalog:
    """The SQLite catalog. One instance per thread that uses it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def records_under(self, roots: Iterable[str]) -> dict[str, FileRecord]:
        """Every record whose path is one of roots or lies below one of them."""
        found: dict[str, FileRecord] = {}
        for root in roots:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM files WHERE path = ? OR substr(path, 1, ?) = ?",
                (root, len(root) + 1, root.rstrip("/") + "/"),
            )
            found.update((row[0], FileRecord(*row)) for row in rows)
        return found

    def get(self, path: str) -> FileRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM files WHERE path = ?", (path,)).fetchone()
        return FileRecord(*row) if row else None

    def shas_indexed_with(self, model_id: str) -> set[str]:
        """Content hashes that already have a point embedded by this model."""
        rows = self._db.execute(
            "SELECT DISTINCT sha256 FROM files WHERE status = 'indexed' AND model_id = ?",
            (model_id,),
        )
        return {row[0] for row in rows}

    def paths_for(self, sha256: str) -> list[str]:
        """The indexed paths holding this content, sorted."""
        rows = self._db.execute(
            "SELECT path FROM files WHERE sha256 = ? AND status = 'indexed' ORDER BY path",
            (sha256,),
        )
        return [row[0] for row in rows]

    def mark_indexed(self, items: Sequence[tuple[FileState, str]], model_id: str) -> None:
        """Record files (with their content hash) as indexed by model_id, in one transaction."""
        now = _now()
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, 'indexed', ?, NULL, ?)",
                [(s.path, s.size, s.mtime_ns, sha, model_id, now) for s, sha in items],
            )

    def mark_failed(self, state: FileState, sha256: str | None, error: str) -> None:
        """Record a file that could not be indexed, with the reason."""
        self._db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, 'failed', NULL, ?, ?)",
            (state.path, state.size, state.mtime_ns, sha256, error, _now()),
        )

    def remove(self, paths: Sequence[str]) -> None:
        with self._transaction():
            self._db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in paths])

    def status_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT status, count(*) FROM files GROUP BY status")
        return {status: count for status, count in rows}

    def failures(self, limit: int = 1000) -> list[tuple[str, str]]:
        rows = self._db.execute(
            "SELECT path, error FROM files WHERE status = 'failed' ORDER BY path LIMIT ?", (limit,)
        )
        return [(path, error or "") for path, error in rows]

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # the connection runs in autocommit mode; batches get one explicit transaction
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


_COLUMNS = "path, size, mtime_ns, sha256, status, model_id, error"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
