"""The catalog: what pixseek knows of each library file, in SQLite beside the index.

It makes indexing incremental (an unchanged file is skipped by size and mtime), remembers
failures with their reasons, and maps content hashes to the paths holding them. The index is
written before the catalog, so after a crash the catalog never claims a point that is missing.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from more_itertools import chunked

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT,
    -- 'excluded' was a photo deleted by the user, which no release ever did: kept so that
    -- every catalog made before opens with the same table
    status TEXT NOT NULL CHECK (status IN ('indexed', 'failed', 'pending', 'excluded')),
    model_id TEXT,
    error TEXT,
    updated_at TEXT NOT NULL,
    job_id TEXT,
    claimed_by TEXT,
    claimed_at REAL,
    queued_from TEXT,
    queued_from_size INTEGER,
    queued_from_mtime_ns INTEGER
);
CREATE INDEX IF NOT EXISTS files_sha256 ON files (sha256);
CREATE INDEX IF NOT EXISTS files_pending ON files (status, job_id) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS roots (
    path TEXT PRIMARY KEY,
    added_at TEXT NOT NULL
);
"""
# Columns added after the first release, with their types: a catalog made before gets them
# when it is opened. job_id stays on a row once its file is processed (the job's counters are
# counted from the catalog); queued_from* hold what a queued file was before it was queued
# (status, size, mtime; NULL: new), so a cancelled job can give it back.
_ADDED_COLUMNS = {
    "queued_from": "TEXT",
    "queued_from_size": "INTEGER",
    "queued_from_mtime_ns": "INTEGER",
}
_ADDED_INDEXES = "CREATE INDEX IF NOT EXISTS files_job ON files (job_id, status);"


MAX_FAILURES_KEPT = 1000  # failed files (path, reason) a job lists; it counts them all


@dataclass(frozen=True)
class JobCounts:
    """A job's processed files, counted from the catalog when the job ends: the counters
    recorded along the way can miss a batch (a worker killed between writing and counting, a
    job store that lost writes), the catalog cannot."""

    done: int
    failed: int
    failures: list[tuple[str, str]]  # (path, reason), the first MAX_FAILURES_KEPT


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

    @property
    def state(self) -> FileState:
        return FileState(self.path, self.size, self.mtime_ns)

    def is_current(self, state: FileState, model_id: str) -> bool:
        """Nothing to do: indexed by this model and not modified since."""
        unmodified = (self.size, self.mtime_ns) == (state.size, state.mtime_ns)
        return unmodified and self.status == "indexed" and self.model_id == model_id


@dataclass(frozen=True)
class Claimed:
    """A queued file a worker took, with the job it was queued for."""

    record: FileRecord
    job_id: str | None


def _by_path(claimed: Claimed) -> str:
    return claimed.record.path


class Catalog:
    """The SQLite catalog; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # shared by the serve process's threads (web requests, the in-process worker):
        # every statement and transaction runs under one lock
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Bring a catalog made by an earlier release up to this schema."""
        with self._transaction():
            present = {row[1] for row in self._db.execute("PRAGMA table_info(files)")}
            for name, kind in _ADDED_COLUMNS.items():
                if name not in present:
                    self._db.execute(f"ALTER TABLE files ADD COLUMN {name} {kind}")
            self._db.execute(_ADDED_INDEXES)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def records_under(self, roots: Iterable[str]) -> dict[str, FileRecord]:
        """Every record whose path is one of roots or lies below one of them."""
        found: dict[str, FileRecord] = {}
        for root in roots:
            rows = self._rows(
                f"SELECT {_COLUMNS} FROM files WHERE path = ? OR substr(path, 1, ?) = ?",
                (root, len(root) + 1, root.rstrip("/") + "/"),
            )
            found.update((row[0], FileRecord(*row)) for row in rows)
        return found

    def shas_indexed_with(self, model_id: str) -> set[str]:
        """Content hashes that already have a point embedded by this model."""
        rows = self._rows(
            "SELECT DISTINCT sha256 FROM files WHERE status = 'indexed' AND model_id = ?",
            (model_id,),
        )
        return {row[0] for row in rows}

    def paths_for(self, sha256: str) -> list[str]:
        """The indexed paths holding this content, sorted."""
        rows = self._rows(
            "SELECT path FROM files WHERE sha256 = ? AND status = 'indexed' ORDER BY path",
            (sha256,),
        )
        return [row[0] for row in rows]

    def mark_indexed(self, items: Sequence[tuple[FileState, str]], model_id: str) -> None:
        """Record files (with their content hash) as indexed by model_id, in one transaction.
        A file keeps the job it was queued for, so that job's counters can be counted here."""
        now = _now()
        with self._transaction():
            self._db.executemany(
                f"INSERT INTO files ({_WRITE}) VALUES (?, ?, ?, ?, 'indexed', ?, NULL, ?) "
                + _PROCESSED,
                [(s.path, s.size, s.mtime_ns, sha, model_id, now) for s, sha in items],
            )

    def mark_failed(self, state: FileState, sha256: str | None, error: str) -> None:
        """Record a file that could not be indexed, with the reason (keeping its job)."""
        self._write(
            f"INSERT INTO files ({_WRITE}) VALUES (?, ?, ?, ?, 'failed', NULL, ?, ?) " + _PROCESSED,
            (state.path, state.size, state.mtime_ns, sha256, error, _now()),
        )

    def enqueue(self, states: Sequence[FileState], job_id: str) -> None:
        """Queue files for a worker. A queued file keeps its old content hash, model and
        error until it is processed, so its old point can still be found and let go of, and
        remembers its status, size and mtime from before (see unqueue)."""
        now = _now()
        with self._transaction():
            self._db.executemany(
                f"INSERT INTO files ({_WRITE}, job_id) VALUES (?, ?, ?, NULL, 'pending', NULL, "
                "NULL, ?, ?) ON CONFLICT (path) DO UPDATE SET "
                # queued again while queued: what it was before the first queueing still counts
                "queued_from = iif(status = 'pending', queued_from, status), "
                "queued_from_size = iif(status = 'pending', queued_from_size, size), "
                "queued_from_mtime_ns = iif(status = 'pending', queued_from_mtime_ns, mtime_ns), "
                "size = excluded.size, mtime_ns = excluded.mtime_ns, status = 'pending', "
                "updated_at = excluded.updated_at, job_id = excluded.job_id, claimed_by = NULL",
                [(s.path, s.size, s.mtime_ns, now, job_id) for s in states],
            )

    def unqueue(self, job_id: str) -> int:
        """Give a job's queued files that no worker holds back their state from before it
        queued them: an indexed file is indexed again with its old hash and model (and its old
        size and mtime, so a changed file is found changed again by the next scan), a new file
        leaves the catalog (the next scan finds it). How many files went back."""
        unheld = "status = 'pending' AND job_id = ? AND claimed_by IS NULL"
        with self._transaction():
            new = self._db.execute(
                f"DELETE FROM files WHERE {unheld} AND queued_from IS NULL", (job_id,)
            ).rowcount
            known = self._db.execute(
                "UPDATE files SET status = queued_from, size = queued_from_size, "
                "mtime_ns = queued_from_mtime_ns, job_id = NULL, queued_from = NULL, "
                f"queued_from_size = NULL, queued_from_mtime_ns = NULL WHERE {unheld}",
                (job_id,),
            ).rowcount
        return int(new + known)

    def job_counts(self, job_id: str) -> JobCounts:
        """What the catalog holds of a job's processed files: how many are indexed, and the
        failed ones with their reasons (the first MAX_FAILURES_KEPT)."""
        done = self._rows(
            "SELECT count(*) FROM files WHERE job_id = ? AND status = 'indexed'", (job_id,)
        )[0][0]
        failed = self._rows(
            "SELECT count(*) FROM files WHERE job_id = ? AND status = 'failed'", (job_id,)
        )[0][0]
        failures = self._rows(
            "SELECT path, coalesce(error, '') FROM files WHERE job_id = ? AND status = 'failed' "
            "ORDER BY path LIMIT ?",
            (job_id, MAX_FAILURES_KEPT),
        )
        return JobCounts(int(done), int(failed), [(path, error) for path, error in failures])

    def claimed_count(self, job_id: str) -> int:
        """A job's queued files some worker holds now."""
        rows = self._rows(
            "SELECT count(*) FROM files WHERE status = 'pending' AND job_id = ? "
            "AND claimed_by IS NOT NULL",
            (job_id,),
        )
        return int(rows[0][0])

    def claim(self, limit: int, worker: str, job_id: str | None = None) -> list[Claimed]:
        """Take up to limit queued files (of one job, or of any) for this worker, atomically."""
        rows = self._rows(
            "UPDATE files SET claimed_by = ?, claimed_at = ? WHERE path IN (SELECT path FROM "
            "files WHERE status = 'pending' AND claimed_by IS NULL AND (? IS NULL OR job_id = ?) "
            f"ORDER BY path LIMIT ?) RETURNING {_COLUMNS}, job_id",
            (worker, time.time(), job_id, job_id, limit),
        )
        return sorted((Claimed(FileRecord(*row[:-1]), row[-1]) for row in rows), key=_by_path)

    def release_claims(self, worker: str | None = None) -> int:
        """Give claimed files back to the queue: one worker's (it restarted) or everyone's."""
        return self._write(
            "UPDATE files SET claimed_by = NULL WHERE status = 'pending' AND claimed_by IS NOT "
            "NULL AND (? IS NULL OR claimed_by = ?)",
            (worker, worker),
        )

    def pending_count(self, job_id: str) -> int:
        """Files of a job still queued (claimed or not)."""
        rows = self._rows(
            "SELECT count(*) FROM files WHERE status = 'pending' AND job_id = ?", (job_id,)
        )
        return int(rows[0][0])

    def pending_jobs(self) -> dict[str | None, int]:
        """Queued files per job id."""
        rows = self._rows(
            "SELECT job_id, count(*) FROM files WHERE status = 'pending' GROUP BY job_id"
        )
        return {job_id: count for job_id, count in rows}

    def move_pending(self, from_job: str | None, to_job: str) -> int:
        """Hand a job's queued files (None: those of no job) to another job; how many moved."""
        return self._write(
            "UPDATE files SET job_id = ?, claimed_by = NULL WHERE status = 'pending' "
            "AND job_id IS ?",
            (to_job, from_job),
        )

    def states_to_reindex(self, model_id: str, everything: bool) -> list[FileState]:
        """Files to embed again: all of them, or those not indexed by this model."""
        condition = "1" if everything else "(status != 'indexed' OR model_id IS NOT ?)"
        params: tuple[str, ...] = () if everything else (model_id,)
        rows = self._rows(
            f"SELECT path, size, mtime_ns FROM files WHERE {condition} ORDER BY path", params
        )
        return [FileState(*row) for row in rows]

    def states_of_shas(self, shas: Sequence[str]) -> list[FileState]:
        """The indexed files holding any of these contents."""
        states: list[FileState] = []
        for chunk in chunked(shas, 500):  # SQLite takes a bounded number of parameters
            rows = self._rows(
                "SELECT path, size, mtime_ns FROM files WHERE status = 'indexed' AND sha256 IN "
                f"({', '.join('?' * len(chunk))})",
                chunk,
            )
            states.extend(FileState(*row) for row in rows)
        return states

    def remove(self, paths: Sequence[str]) -> None:
        with self._transaction():
            self._db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in paths])

    def add_roots(self, roots: Iterable[str]) -> None:
        """Remember library folders (absolute paths), so a rescan can look at them again;
        a folder known already keeps the date it was first added."""
        now = _now()
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO roots (path, added_at) VALUES (?, ?)",
                [(str(root), now) for root in roots],
            )

    def roots(self) -> list[str]:
        """The library folders ever indexed, sorted."""
        return [row[0] for row in self._rows("SELECT path FROM roots ORDER BY path")]

    def status_counts(self) -> dict[str, int]:
        rows = self._rows("SELECT status, count(*) FROM files GROUP BY status")
        return {status: count for status, count in rows}

    def failures(self, limit: int = 1000) -> list[tuple[str, str]]:
        rows = self._rows(
            "SELECT path, error FROM files WHERE status = 'failed' ORDER BY path LIMIT ?", (limit,)
        )
        return [(path, error or "") for path, error in rows]

    def _transaction(self) -> AbstractContextManager[None]:
        return transaction(self._db, self._lock)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; how many rows it changed."""
        with self._lock:
            return self._db.execute(sql, params).rowcount


_COLUMNS = "path, size, mtime_ns, sha256, status, model_id, error"
_WRITE = "path, size, mtime_ns, sha256, status, model_id, error, updated_at"
# A processed file: its new state; it keeps its job_id, and is no longer claimed or queued.
_PROCESSED = (
    "ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
    "sha256 = excluded.sha256, status = excluded.status, model_id = excluded.model_id, "
    "error = excluded.error, updated_at = excluded.updated_at, claimed_by = NULL, "
    "claimed_at = NULL, queued_from = NULL, queued_from_size = NULL, "
    "queued_from_mtime_ns = NULL"
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextmanager
def transaction(db: sqlite3.Connection, lock: AbstractContextManager[Any]) -> Iterator[None]:
    """One explicit transaction on a connection in autocommit mode, under the lock its users
    share: BEGIN IMMEDIATE, then COMMIT, or ROLLBACK on any error."""
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
