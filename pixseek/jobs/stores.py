"""JobStore implementations: the store's database (embedded mode) and Redis (server mode)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from pixseek.jobs.job import FINAL_STATES, MAX_FAILURES_KEPT, Job, JobCounts, State, new_job
from pixseek.settings import Settings
from pixseek.store.db import Database, changed
from pixseek.store.schema import open_database

_FINALS = ", ".join(f"'{s}'" for s in sorted(FINAL_STATES))
_SQL_FIELDS = (
    "id, kind, state, detail, total, done, failed, planned, cancel_requested, error, "
    "created_at, started_at, finished_at"
)


class SqlJobStore:
    """Jobs in the store's database (tables jobs and job_failures)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def close(self) -> None:
        """Nothing to close: the database belongs to whoever opened it."""

    def create(self, kind: str, detail: dict[str, Any] | None = None) -> Job:
        job = new_job(kind, detail)
        self.database.execute(
            "INSERT INTO jobs (id, kind, state, detail, created_at) "
            "VALUES (:id, :kind, :state, :detail, :created)",
            {"id": job.id, "kind": job.kind, "state": job.state,
             "detail": json.dumps(job.detail), "created": job.created_at},
        )  # fmt: skip
        return job

    def get(self, job_id: str) -> Job | None:
        with self.database.read() as connection:
            row = connection.execute(
                text(f"SELECT {_SQL_FIELDS} FROM jobs WHERE id = :id"), {"id": job_id}
            ).first()
            if row is None:
                return None
            failures = connection.execute(
                text("SELECT path, reason FROM job_failures WHERE job_id = :id LIMIT :most"),
                {"id": job_id, "most": MAX_FAILURES_KEPT},
            ).all()
        return _job_from_row(tuple(row), [tuple(f) for f in failures])

    def list(self, limit: int = 50) -> list[Job]:
        rows = self.database.rows(
            f"SELECT {_SQL_FIELDS} FROM jobs ORDER BY created_at DESC LIMIT :most",
            {"most": limit},
        )
        return [_job_from_row(tuple(row), []) for row in rows]

    def start(self, job_id: str) -> None:
        self.database.execute(
            "UPDATE jobs SET state = 'running', started_at = coalesce(started_at, :now) "
            "WHERE id = :id AND state = 'queued'",
            {"now": time.time(), "id": job_id},
        )

    def add_total(self, job_id: str, count: int, planned: bool = False) -> None:
        self.database.execute(
            "UPDATE jobs SET total = total + :count, "
            "planned = CASE WHEN :planned = 1 THEN 1 ELSE planned END WHERE id = :id",
            {"count": count, "planned": int(planned), "id": job_id},
        )

    def record(self, job_id: str, done: int, failures: Sequence[tuple[str, str]] = ()) -> None:
        with self.database.write() as connection:
            counted = connection.execute(
                text(
                    "UPDATE jobs SET done = done + :done, failed = failed + :failed "
                    f"WHERE id = :id AND state NOT IN ({_FINALS})"
                ),
                {"done": done, "failed": len(failures), "id": job_id},
            )
            if changed(counted):
                _add_failures(connection, job_id, failures)

    def finish(
        self, job_id: str, state: State, error: str | None = None, counts: JobCounts | None = None
    ) -> bool:
        now = time.time()
        with self.database.write() as connection:
            ended = changed(
                connection.execute(
                    text(
                        "UPDATE jobs SET state = :state, error = :error, finished_at = :now, "
                        "started_at = coalesce(started_at, :now) "
                        f"WHERE id = :id AND state NOT IN ({_FINALS})"
                    ),
                    {"state": state, "error": error, "now": now, "id": job_id},
                )
            )
            if ended and counts is not None:
                connection.execute(
                    text("UPDATE jobs SET done = :done, failed = :failed WHERE id = :id"),
                    {"done": counts.done, "failed": counts.failed, "id": job_id},
                )
                connection.execute(
                    text("DELETE FROM job_failures WHERE job_id = :id"), {"id": job_id}
                )
                _add_failures(connection, job_id, counts.failures)
        return ended == 1

    def add_detail(self, job_id: str, values: dict[str, Any]) -> None:
        with self.database.write() as connection:
            row = connection.execute(
                text("SELECT detail FROM jobs WHERE id = :id"), {"id": job_id}
            ).first()
            if row is not None:
                detail = json.loads(row[0]) | values
                connection.execute(
                    text("UPDATE jobs SET detail = :detail WHERE id = :id"),
                    {"detail": json.dumps(detail), "id": job_id},
                )

    def request_cancel(self, job_id: str) -> bool:
        return (
            self.database.execute(
                f"UPDATE jobs SET cancel_requested = 1 WHERE id = :id AND state NOT IN ({_FINALS})",
                {"id": job_id},
            )
            == 1
        )

    def failures(self, job_id: str, offset: int = 0, limit: int = 100) -> Sequence[tuple[str, str]]:
        rows = self.database.rows(
            "SELECT path, reason FROM job_failures WHERE job_id = :id "
            "ORDER BY path LIMIT :most OFFSET :skip",
            {"id": job_id, "most": limit, "skip": offset},
        )
        return [(path, reason) for path, reason in rows]


def _add_failures(connection: Connection, job_id: str, failures: Sequence[tuple[str, str]]) -> None:
    if failures:
        connection.execute(
            text("INSERT INTO job_failures (job_id, path, reason) VALUES (:job, :path, :reason)"),
            [{"job": job_id, "path": path, "reason": reason} for path, reason in failures],
        )


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

    def add_detail(self, job_id: str, values: dict[str, Any]) -> None:
        key = self._key(job_id)

        def merge(pipe: Any) -> None:  # again if the detail changed meanwhile (WATCH)
            current = pipe.hget(key, "detail")
            if current is not None:
                pipe.multi()
                pipe.hset(key, "detail", json.dumps(json.loads(current) | values))

        self.redis.transaction(merge, key)

    def request_cancel(self, job_id: str) -> bool:
        return bool(self._eval(_SET_IF_NOT_FINAL, self._key(job_id), "cancel_requested", 1, ""))

    def failures(self, job_id: str, offset: int = 0, limit: int = 100) -> Sequence[tuple[str, str]]:
        key = f"{self._key(job_id)}:failures"
        found = self.redis.lrange(key, offset, offset + limit - 1) if limit > 0 else []
        return [(path, reason) for path, reason in (json.loads(f) for f in found)]

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


def open_job_store(
    settings: Settings, database: Database | None = None
) -> SqlJobStore | RedisJobStore:
    """Redis in server mode (the broker's, unless PIXSEEK_REDIS_URL names another); otherwise
    the store's database: database, or one opened now (its schema upgraded when older)."""
    url = settings.redis_url or settings.broker_url
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        import redis

        return RedisJobStore(redis.Redis.from_url(url))
    return SqlJobStore(database or open_database(settings))
