"""JobStore implementations: SQLite (embedded mode) and Redis (server mode)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pixseek.jobs.job import FINAL_STATES, MAX_FAILURES_KEPT, Job, JobCounts, State, new_job
from pixseek.settings import Settings
from pixseek.store.catalog import transaction

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, detail TEXT NOT NULL,
    total INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0, planned INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0, error TEXT,
    created_at REAL NOT NULL, started_at REAL, finished_at REAL
);
CREATE TABLE IF NOT EXISTS job_failures (
    job_id TEXT NOT NULL, path TEXT NOT NULL, reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS job_failures_job ON job_failures (job_id);
"""
_FINALS = ", ".join(f"'{s}'" for s in sorted(FINAL_STATES))
_SQL_FIELDS = (
    "id, kind, state, detail, total, done, failed, planned, cancel_requested, error, "
    "created_at, started_at, finished_at"
)


class SqliteJobStore:
    """Jobs in a SQLite file; one connection, serialised by a lock (threads share the store)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SQLITE_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def create(self, kind: str, detail: dict[str, Any] | None = None) -> Job:
        job = new_job(kind, detail)
        self._execute(
            "INSERT INTO jobs (id, kind, state, detail, created_at) VALUES (?, ?, ?, ?, ?)",
            (job.id, job.kind, job.state, json.dumps(job.detail), job.created_at),
        )
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_SQL_FIELDS} FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None:
                return None
            failures = self._db.execute(
                "SELECT path, reason FROM job_failures WHERE job_id = ? LIMIT ?",
                (job_id, MAX_FAILURES_KEPT),
            ).fetchall()
        return _job_from_row(row, failures)

    def list(self, limit: int = 50) -> list[Job]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_SQL_FIELDS} FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_job_from_row(row, []) for row in rows]

    def start(self, job_id: str) -> None:
        self._execute(
            "UPDATE jobs SET state = 'running', started_at = coalesce(started_at, ?) "
            "WHERE id = ? AND state = 'queued'",
            (time.time(), job_id),
        )

    def add_total(self, job_id: str, count: int, planned: bool = False) -> None:
        self._execute(
            "UPDATE jobs SET total = total + ?, planned = max(planned, ?) WHERE id = ?",
            (count, int(planned), job_id),
        )

    def record(self, job_id: str, done: int, failures: Sequence[tuple[str, str]] = ()) -> None:
        with transaction(self._db, self._lock):
            counted = self._db.execute(
                "UPDATE jobs SET done = done + ?, failed = failed + ? "
                f"WHERE id = ? AND state NOT IN ({_FINALS})",
                (done, len(failures), job_id),
            ).rowcount
            if counted:
                self._add_failures(job_id, failures)

    def finish(
        self, job_id: str, state: State, error: str | None = None, counts: JobCounts | None = None
    ) -> bool:
        now = time.time()
        with transaction(self._db, self._lock):
            ended = self._db.execute(
                "UPDATE jobs SET state = ?, error = ?, finished_at = ?, "
                f"started_at = coalesce(started_at, ?) WHERE id = ? AND state NOT IN ({_FINALS})",
                (state, error, now, now, job_id),
            ).rowcount
            if ended and counts is not None:
                self._db.execute(
                    "UPDATE jobs SET done = ?, failed = ? WHERE id = ?",
                    (counts.done, counts.failed, job_id),
                )
                self._db.execute("DELETE FROM job_failures WHERE job_id = ?", (job_id,))
                self._add_failures(job_id, counts.failures)
        return ended == 1

    def _add_failures(self, job_id: str, failures: Sequence[tuple[str, str]]) -> None:
        self._db.executemany(
            "INSERT INTO job_failures VALUES (?, ?, ?)", [(job_id, p, r) for p, r in failures]
        )

    def request_cancel(self, job_id: str) -> bool:
        cursor = self._execute(
            f"UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state NOT IN ({_FINALS})",
            (job_id,),
        )
        return cursor.rowcount == 1

    def _execute(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)


def _job_from_row(row: tuple[Any, ...], failures: list[tuple[str, str]]) -> Job:
    (id_, kind, state, detail, total, done, failed, planned, cancel, error, created, started,
     finished) = row  # fmt: skip
    return Job(
        id=id_, kind=kind, state=state, detail=json.loads(detail), total=total, done=done,
        failed=failed, planned=bool(planned), cancel_requested=bool(cancel), error=error,
        created_at=created, started_at=started, finished_at=finished,
        failures=[(p, r) for p, r in failures],
    )  # fmt: skip


class RedisJobStore:
    """Jobs in Redis: a hash per job, a capped list of failures, a sorted set of ids by time."""

    def __init__(self, client: Any, prefix: str = "pixseek") -> None:
        self.redis = client
        self.prefix = prefix

    def create(self, kind: str, detail: dict[str, Any] | None = None) -> Job:
        job = new_job(kind, detail)
        fields = {
            "id": job.id, "kind": job.kind, "state": job.state, "detail": json.dumps(job.detail),
            "total": 0, "done": 0, "failed": 0, "planned": 0, "cancel_requested": 0,
            "created_at": job.created_at,
        }  # fmt: skip
        pipe = self.redis.pipeline()
        pipe.hset(self._key(job.id), mapping=fields)
        pipe.zadd(f"{self.prefix}:jobs", {job.id: job.created_at})
        pipe.execute()
        return job

    def get(self, job_id: str) -> Job | None:
        data = self.redis.hgetall(self._key(job_id))
        if not data:
            return None
        failures = self.redis.lrange(f"{self._key(job_id)}:failures", 0, MAX_FAILURES_KEPT - 1)
        return _job_from_hash(_decoded(data), [tuple(json.loads(f)) for f in failures])

    def list(self, limit: int = 50) -> list[Job]:
        ids = self.redis.zrevrange(f"{self.prefix}:jobs", 0, limit - 1)
        jobs = [self.get(i.decode() if isinstance(i, bytes) else i) for i in ids]
        return [job for job in jobs if job is not None]

    def start(self, job_id: str) -> None:
        key = self._key(job_id)
        self.redis.hsetnx(key, "started_at", time.time())
        self._eval(_SET_IF_NOT_FINAL, key, "state", "running", "queued")

    def add_total(self, job_id: str, count: int, planned: bool = False) -> None:
        pipe = self.redis.pipeline()
        pipe.hincrby(self._key(job_id), "total", count)
        if planned:
            pipe.hset(self._key(job_id), "planned", 1)
        pipe.execute()

    def record(self, job_id: str, done: int, failures: Sequence[tuple[str, str]] = ()) -> None:
        key = self._key(job_id)
        self.redis.eval(
            _RECORD, 2, key, f"{key}:failures", done, MAX_FAILURES_KEPT,
            *[json.dumps([p, r]) for p, r in failures],
        )  # fmt: skip

    def finish(
        self, job_id: str, state: State, error: str | None = None, counts: JobCounts | None = None
    ) -> bool:
        key = self._key(job_id)
        settled = [] if counts is None else [counts.done, counts.failed]
        failures = [] if counts is None else [json.dumps([p, r]) for p, r in counts.failures]
        changed = self.redis.eval(
            _FINISH, 2, key, f"{key}:failures", state, error or "", time.time(),
            len(settled), *settled, *failures,
        )  # fmt: skip
        return bool(changed)

    def request_cancel(self, job_id: str) -> bool:
        return bool(self._eval(_SET_IF_NOT_FINAL, self._key(job_id), "cancel_requested", 1, ""))

    def _key(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def _eval(self, script: str, key: str, *args: Any) -> Any:
        return self.redis.eval(script, 1, key, *args)


# Check-and-set in one step, so two workers finishing the same job cannot both win.
_SET_IF_NOT_FINAL = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == 'done' or state == 'failed' or state == 'cancelled' then return 0 end
if ARGV[3] ~= '' and state ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""
# KEYS: the job, its failures. ARGV: state, error, time, 0 or 2, [done, failed], failures...
_FINISH = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == 'done' or state == 'failed' or state == 'cancelled' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'finished_at', ARGV[3])
redis.call('HSETNX', KEYS[1], 'started_at', ARGV[3])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[2]) end
if ARGV[4] == '2' then
  redis.call('HSET', KEYS[1], 'done', ARGV[5], 'failed', ARGV[6])
  redis.call('DEL', KEYS[2])
  for i = 7, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
end
return 1
"""
# KEYS: the job, its failures. ARGV: done, how many failures to keep, failures...
_RECORD = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == 'done' or state == 'failed' or state == 'cancelled' then return 0 end
redis.call('HINCRBY', KEYS[1], 'done', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'failed', #ARGV - 2)
for i = 3, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
if #ARGV > 2 then redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1) end
return 1
"""


def _decoded(data: dict[Any, Any]) -> dict[str, str]:
    def text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    return {text(k): text(v) for k, v in data.items()}


def _job_from_hash(data: dict[str, str], failures: list[tuple[str, str]]) -> Job:
    def number(name: str) -> float | None:
        return float(data[name]) if data.get(name) else None

    return Job(
        id=data["id"], kind=data["kind"], state=data["state"],  # type: ignore[arg-type]
        detail=json.loads(data.get("detail") or "{}"), total=int(data.get("total", 0)),
        done=int(data.get("done", 0)), failed=int(data.get("failed", 0)),
        planned=data.get("planned") == "1", cancel_requested=data.get("cancel_requested") == "1",
        error=data.get("error") or None, created_at=float(data.get("created_at", 0)),
        started_at=number("started_at"), finished_at=number("finished_at"), failures=failures,
    )  # fmt: skip


def open_job_store(settings: Settings) -> SqliteJobStore | RedisJobStore:
    """Redis in server mode (the broker's, unless PIXSEEK_REDIS_URL names another); SQLite in
    the data directory otherwise."""
    url = settings.redis_url or settings.broker_url
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        import redis

        return RedisJobStore(redis.Redis.from_url(url))
    return SqliteJobStore(settings.jobs_path)
