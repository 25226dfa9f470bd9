"""The catalog: what pixseek knows of each library file, in the store beside the index.

It makes indexing incremental (an unchanged file is skipped by size and mtime), remembers
failures with their reasons, maps content hashes to the paths holding them, and is the work
queue of the jobs: a queued file is claimed by one worker for a lease (PIXSEEK_CLAIM_LEASE),
renewed while it works; once a lease has passed any worker may take the file. The index is
written before the catalog, so after a crash the catalog never claims a point that is missing.

The table (pixseek/store/migrations): one row per file: path, size, mtime_ns, sha256, status
(indexed | failed | pending; 'excluded', which no release ever wrote, is still allowed so old
catalogs keep their table), model_id, error, updated_at, job_id (the job that last queued it,
kept once processed: the job's counters are counted here), claimed_by, claimed_at,
lease_until, and queued_from* (what a queued file was before it was queued: status, size,
mtime; NULL: new), so a cancelled job can give it back.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from more_itertools import chunked
from sqlalchemy import text

from pixseek.store.db import Database, changed

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
    """The catalog in the store's database; safe to share between threads."""

    def __init__(self, database: Database, lease: float = 300.0) -> None:
        self.database = database
        self.lease = lease  # seconds a claim lasts unless renewed

    def close(self) -> None:
        """Nothing to close: the database belongs to whoever opened it."""

    def records_under(self, roots: Iterable[str]) -> dict[str, FileRecord]:
        """Every record whose path is one of roots or lies below one of them."""
        found: dict[str, FileRecord] = {}
        for root in roots:
            prefix = root.rstrip("/") + "/"
            rows = self.database.rows(
                f"SELECT {_COLUMNS} FROM files WHERE path = :root "
                "OR substr(path, 1, :length) = :prefix",
                {"root": root, "length": len(prefix), "prefix": prefix},
            )
            found.update((row[0], FileRecord(*row)) for row in rows)
        return found

    def shas_indexed_with(self, model_id: str) -> set[str]:
        """Content hashes that already have a point embedded by this model."""
        rows = self.database.rows(
            "SELECT DISTINCT sha256 FROM files WHERE status = 'indexed' AND model_id = :model",
            {"model": model_id},
        )
        return {row[0] for row in rows}

    def paths_for(self, sha256: str) -> list[str]:
        """The indexed paths holding this content, sorted."""
        rows = self.database.rows(
            "SELECT path FROM files WHERE sha256 = :sha AND status = 'indexed' ORDER BY path",
            {"sha": sha256},
        )
        return [row[0] for row in rows]

    def mark_indexed(self, items: Sequence[tuple[FileState, str]], model_id: str) -> None:
        """Record files (with their content hash) as indexed by model_id, in one transaction.
        A file keeps the job it was queued for, so that job's counters can be counted here."""
        now = _now()
        rows = [_processed(state, sha, "indexed", model_id, None, now) for state, sha in items]
        if rows:
            self.database.execute(_WRITE_PROCESSED, rows)

    def mark_failed(self, state: FileState, sha256: str | None, error: str) -> None:
        """Record a file that could not be indexed, with the reason (keeping its job)."""
        self.database.execute(
            _WRITE_PROCESSED, _processed(state, sha256, "failed", None, error, _now())
        )

    def enqueue(self, states: Sequence[FileState], job_id: str) -> None:
        """Queue files for a worker. A queued file keeps its old content hash, model and
        error until it is processed, so its old point can still be found and let go of, and
        remembers its status, size and mtime from before (see unqueue)."""
        now = _now()
        rows = [
            {"path": s.path, "size": s.size, "mtime": s.mtime_ns, "now": now, "job": job_id}
            for s in states
        ]
        if rows:
            self.database.execute(_ENQUEUE, rows)

    def unqueue(self, job_id: str) -> int:
        """Give a job's queued files that no worker holds back their state from before it
        queued them: an indexed file is indexed again with its old hash and model (and its old
        size and mtime, so a changed file is found changed again by the next scan), a new file
        leaves the catalog (the next scan finds it). How many files went back."""
        unheld = f"status = 'pending' AND job_id = :job AND {_FREE}"
        params = {"job": job_id, "now": time.time()}
        with self.database.write() as connection:
            new = connection.execute(
                text(f"DELETE FROM files WHERE {unheld} AND queued_from IS NULL"), params
            )
            known = connection.execute(
                text(
                    "UPDATE files SET status = queued_from, size = queued_from_size, "
                    "mtime_ns = queued_from_mtime_ns, job_id = NULL, queued_from = NULL, "
                    "queued_from_size = NULL, queued_from_mtime_ns = NULL, claimed_by = NULL, "
                    f"lease_until = NULL WHERE {unheld}"
                ),
                params,
            )
            return changed(new) + changed(known)

    def job_counts(self, job_id: str) -> JobCounts:
        """What the catalog holds of a job's processed files: how many are indexed, and the
        failed ones with their reasons (the first MAX_FAILURES_KEPT)."""
        with self.database.read() as connection:
            counts: dict[str, int] = dict(
                connection.execute(
                    text(
                        "SELECT status, count(*) FROM files WHERE job_id = :job "
                        "AND status IN ('indexed', 'failed') GROUP BY status"
                    ),
                    {"job": job_id},
                ).all()
            )
            failures = connection.execute(
                text(
                    "SELECT path, coalesce(error, '') FROM files WHERE job_id = :job "
                    "AND status = 'failed' ORDER BY path LIMIT :most"
                ),
                {"job": job_id, "most": MAX_FAILURES_KEPT},
            ).all()
        return JobCounts(
            int(counts.get("indexed", 0)),
            int(counts.get("failed", 0)),
            [(path, error) for path, error in failures],
        )

    def claimed_count(self, job_id: str) -> int:
        """A job's queued files some worker holds now (on a lease that has not passed)."""
        rows = self.database.rows(
            f"SELECT count(*) FROM files WHERE status = 'pending' AND job_id = :job AND {_HELD}",
            {"job": job_id, "now": time.time()},
        )
        return int(rows[0][0])

    def claim(self, limit: int, worker: str, job_id: str | None = None) -> list[Claimed]:
        """Take up to limit queued files (of one job, or of any) for this worker, atomically,
        for a lease: files no worker holds, or whose lease has passed (their worker is lost)."""
        now = time.time()
        of_job = "AND job_id = :job" if job_id is not None else ""
        skip_locked = "" if self.database.is_sqlite else " FOR UPDATE SKIP LOCKED"
        sql = (
            "UPDATE files SET claimed_by = :worker, claimed_at = :now, lease_until = :until "
            "WHERE path IN (SELECT path FROM files WHERE status = 'pending' "
            f"AND {_FREE} {of_job} ORDER BY path LIMIT :limit{skip_locked}) "
            f"RETURNING {_COLUMNS}, job_id"
        )
        params = {"worker": worker, "now": now, "until": now + self.lease, "job": job_id,
                  "limit": limit}  # fmt: skip
        with self.database.write() as connection:
            rows = connection.execute(text(sql), params).all()
        return sorted((Claimed(FileRecord(*row[:-1]), row[-1]) for row in rows), key=_by_path)

    def renew_claims(self, worker: str) -> int:
        """A working worker's claims last another lease from now; how many it holds."""
        now = time.time()
        return self.database.execute(
            "UPDATE files SET lease_until = :until WHERE status = 'pending' "
            "AND claimed_by = :worker",
            {"until": now + self.lease, "worker": worker},
        )

    def release_claims(self, worker: str | None = None) -> int:
        """Give claimed files back to the queue: one worker's (it restarted) or everyone's."""
        of_worker = "AND claimed_by = :worker" if worker is not None else ""
        return self.database.execute(
            "UPDATE files SET claimed_by = NULL, lease_until = NULL WHERE status = 'pending' "
            f"AND claimed_by IS NOT NULL {of_worker}",
            {"worker": worker},
        )

    def pending_count(self, job_id: str) -> int:
        """Files of a job still queued (claimed or not)."""
        rows = self.database.rows(
            "SELECT count(*) FROM files WHERE status = 'pending' AND job_id = :job",
            {"job": job_id},
        )
        return int(rows[0][0])

    def pending_jobs(self) -> dict[str | None, int]:
        """Queued files per job id."""
        rows = self.database.rows(
            "SELECT job_id, count(*) FROM files WHERE status = 'pending' GROUP BY job_id"
        )
        return {job_id: count for job_id, count in rows}

    def move_pending(self, from_job: str | None, to_job: str) -> int:
        """Hand a job's queued files (None: those of no job) to another job; how many moved."""
        of_job = "job_id IS NULL" if from_job is None else "job_id = :source"
        return self.database.execute(
            "UPDATE files SET job_id = :target, claimed_by = NULL, lease_until = NULL "
            f"WHERE status = 'pending' AND {of_job}",
            {"target": to_job, "source": from_job},
        )

    def states_to_reindex(self, model_id: str, everything: bool) -> list[FileState]:
        """Files to embed again: all of them, or those not indexed by this model."""
        condition = (
            "" if everything else "WHERE status != 'indexed' OR model_id IS NULL OR model_id != :m"
        )
        rows = self.database.rows(
            f"SELECT path, size, mtime_ns FROM files {condition} ORDER BY path", {"m": model_id}
        )
        return [FileState(*row) for row in rows]

    def states_of_shas(self, shas: Sequence[str]) -> list[FileState]:
        """The indexed files holding any of these contents."""
        states: list[FileState] = []
        for chunk in chunked(shas, 500):  # a bounded number of parameters per statement
            names = [f"s{number}" for number in range(len(chunk))]
            rows = self.database.rows(
                "SELECT path, size, mtime_ns FROM files WHERE status = 'indexed' AND sha256 IN "
                f"({', '.join(':' + name for name in names)})",
                dict(zip(names, chunk, strict=True)),
            )
            states.extend(FileState(*row) for row in rows)
        return states

    def remove(self, paths: Sequence[str]) -> None:
        if paths:
            self.database.execute(
                "DELETE FROM files WHERE path = :path", [{"path": path} for path in paths]
            )

    def add_roots(self, roots: Iterable[str]) -> None:
        """Remember library folders (absolute paths), so a rescan can look at them again;
        a folder known already keeps the date it was first added."""
        rows = [{"path": str(root), "now": _now()} for root in roots]
        if rows:
            self.database.execute(
                "INSERT INTO roots (path, added_at) VALUES (:path, :now) "
                "ON CONFLICT (path) DO NOTHING",
                rows,
            )

    def roots(self) -> list[str]:
        """The library folders ever indexed, sorted."""
        return [row[0] for row in self.database.rows("SELECT path FROM roots ORDER BY path")]

    def status_counts(self) -> dict[str, int]:
        rows = self.database.rows("SELECT status, count(*) FROM files GROUP BY status")
        return {status: int(count) for status, count in rows}

    def failures(self, limit: int = 1000) -> list[tuple[str, str]]:
        rows = self.database.rows(
            "SELECT path, error FROM files WHERE status = 'failed' ORDER BY path LIMIT :most",
            {"most": limit},
        )
        return [(path, error or "") for path, error in rows]


_COLUMNS = "path, size, mtime_ns, sha256, status, model_id, error"
# A claim no worker holds now (never claimed, released, or its lease has passed), and one held.
_FREE = "(claimed_by IS NULL OR lease_until IS NULL OR lease_until <= :now)"
_HELD = "(claimed_by IS NOT NULL AND lease_until > :now)"
# A processed file: its new state; it keeps its job_id, and is no longer claimed or queued.
_WRITE_PROCESSED = (
    "INSERT INTO files (path, size, mtime_ns, sha256, status, model_id, error, updated_at) "
    "VALUES (:path, :size, :mtime, :sha, :status, :model, :error, :now) "
    "ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
    "sha256 = excluded.sha256, status = excluded.status, model_id = excluded.model_id, "
    "error = excluded.error, updated_at = excluded.updated_at, claimed_by = NULL, "
    "claimed_at = NULL, lease_until = NULL, queued_from = NULL, queued_from_size = NULL, "
    "queued_from_mtime_ns = NULL"
)
# Queued again while queued: what it was before the first queueing still counts.
_ENQUEUE = (
    "INSERT INTO files (path, size, mtime_ns, status, updated_at, job_id) "
    "VALUES (:path, :size, :mtime, 'pending', :now, :job) ON CONFLICT (path) DO UPDATE SET "
    "queued_from = CASE WHEN files.status = 'pending' THEN files.queued_from "
    "ELSE files.status END, "
    "queued_from_size = CASE WHEN files.status = 'pending' THEN files.queued_from_size "
    "ELSE files.size END, "
    "queued_from_mtime_ns = CASE WHEN files.status = 'pending' THEN files.queued_from_mtime_ns "
    "ELSE files.mtime_ns END, "
    "size = excluded.size, mtime_ns = excluded.mtime_ns, status = 'pending', "
    "updated_at = excluded.updated_at, job_id = excluded.job_id, claimed_by = NULL, "
    "lease_until = NULL"
)


def _processed(
    state: FileState, sha256: str | None, status: str, model_id: str | None,
    error: str | None, now: str,
) -> dict[str, Any]:  # fmt: skip
    return {
        "path": state.path, "size": state.size, "mtime": state.mtime_ns, "sha": sha256,
        "status": status, "model": model_id, "error": error, "now": now,
    }  # fmt: skip


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
