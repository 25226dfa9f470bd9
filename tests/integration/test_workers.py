"""Server mode for real: redis-server (killed and restarted too), `pixseek worker` processes
(Celery), the `pixseek` CLI."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import redis

from pixseek.jobs.job import Job
from pixseek.jobs.stores import RedisJobStore
from pixseek.library import Library
from pixseek.settings import Settings
from pixseek.store.lock import DataDirLock
from tests import postgres
from tests.integration.library import GeneratedLibrary, generate_library
from tests.integration.services import (
    RedisServer,
    indexed_rows,
    pixseek_env,
    redis_server,
    run_pixseek,
    start_pixseek,
    stop,
    wait_for,
)

IMAGES = 200


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with redis_server(tmp_path / "redis") as url:
        yield url


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> GeneratedLibrary:
    return generate_library(tmp_path_factory.mktemp("library"), IMAGES)


def env_for(redis_url: str, **settings: str) -> dict[str, str]:
    return pixseek_env(broker_url=redis_url, **settings)


def submit(data: Path, library: GeneratedLibrary, env: dict[str, str]) -> str:
    result = run_pixseek(data, "index", str(library.root), "--detach", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["job"])


def job_in_redis(redis_url: str, job_id: str) -> Job:
    job = RedisJobStore(redis.Redis.from_url(redis_url)).get(job_id)
    assert job is not None
    return job


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The catalog the workers share: the data directory's SQLite, or a real PostgreSQL."""
    if request.param == "sqlite":
        yield None
        return
    with postgres.database(request.getfixturevalue("postgres_server")) as url:
        yield url


def indexed(data: Path, store_url: str | None = None) -> tuple[int, int]:
    """Points in the index and indexed files in the catalog, read after the workers stopped."""
    settings = Settings(data_dir=data, model="pixseek-tiny", database_url=store_url)
    with Library(settings) as opened:
        return opened.index.count(), opened.catalog.status_counts().get("indexed", 0)


def test_a_worker_ingests_through_redis(
    tmp_path: Path, redis_url: str, library: GeneratedLibrary
) -> None:
    data, env = tmp_path / "data", env_for(redis_url)
    worker = start_pixseek(
        data, "worker", "--name", "w1@test", env=env, log=tmp_path / "worker.log"
    )
    try:
        job_id = submit(data, library, env)
        seen = [job_in_redis(redis_url, job_id)]
        while not seen[-1].finished:
            seen.append(wait_for(lambda: job_in_redis(redis_url, job_id), 60, "the job"))
        ping = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "workers.app", "inspect", "ping", "--json"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert "w1@test" in ping.stdout, ping.stderr
    finally:
        stop(worker)
    final = seen[-1]
    assert (final.state, final.total, final.done, final.failed) == ("done", IMAGES + 3, IMAGES, 3)
    assert {path for path, _ in final.failures} == {str(p) for p in library.corrupt}
    assert any(job.state == "running" for job in seen)
    assert indexed(data) == (IMAGES, IMAGES)


def test_a_killed_worker_resumes_on_restart_without_duplicates(
    tmp_path: Path, redis_url: str, library: GeneratedLibrary, store_url: str | None
) -> None:
    data = tmp_path / "data"
    database = {"database_url": store_url} if store_url else {}
    env = env_for(redis_url, batch_size="4", worker_claim="8", **database)
    log = tmp_path / "worker.log"
    worker = start_pixseek(data, "worker", "--name", "w2@test", env=env, log=log)
    job_id = submit(data, library, env)
    wait_for(lambda: job_in_redis(redis_url, job_id).done >= IMAGES // 4, 120, "a quarter done")
    worker.send_signal(signal.SIGKILL)
    worker.wait(30)
    halfway = job_in_redis(redis_url, job_id)
    assert not halfway.finished and halfway.done < IMAGES

    restarted = start_pixseek(data, "worker", "--name", "w2@test", env=env, log=log)
    try:
        final = wait_for(
            lambda: (job := job_in_redis(redis_url, job_id)).finished and job, 120, "the job to end"
        )
    finally:
        stop(restarted)
    assert final.state == "done"
    assert indexed(data, store_url) == (IMAGES, IMAGES)
    assert not (data / "catalog.sqlite3").exists() or store_url is None


def test_a_cancelled_job_stops_within_seconds_and_says_how_far_it_got(
    tmp_path: Path, redis_url: str
) -> None:
    # large enough pictures that the job outlasts the two CLI calls below
    library = generate_library(tmp_path / "library", IMAGES, size=(1600, 1200))
    data = tmp_path / "data"
    env = env_for(redis_url, batch_size="2", worker_claim="4")
    worker = start_pixseek(
        data, "worker", "--name", "w3@test", env=env, log=tmp_path / "worker.log"
    )
    try:
        job_id = submit(data, library, env)
        wait_for(lambda: job_in_redis(redis_url, job_id).done >= 10, 120, "some progress")
        shown = run_pixseek(data, "jobs", "show", job_id, "--json", env=env)
        running = json.loads(shown.stdout)
        assert running["state"] == "running" and running["total"] == IMAGES + 3
        assert {"done", "failed", "images_per_second", "eta_seconds"} <= set(running)
        assert running["images_per_second"] > 0 and running["eta_seconds"] is not None

        cancelled = run_pixseek(data, "jobs", "cancel", job_id, env=env)
        assert cancelled.returncode == 0 and "files processed" in cancelled.stdout
        final = wait_for(
            lambda: (job := job_in_redis(redis_url, job_id)).finished and job, 5, "the cancel"
        )
    finally:
        stop(worker)
    assert final.state == "cancelled"
    assert 10 <= final.done < IMAGES
    listed = run_pixseek(data, "jobs", env=env)
    assert job_id in listed.stdout and "cancelled" in listed.stdout


def test_a_worker_that_cannot_open_the_index_refuses_to_start_and_takes_no_task(
    tmp_path: Path, redis_url: str, library: GeneratedLibrary
) -> None:
    # the issue: a second worker on the embedded index said "ready", took the scan task and
    # failed it, and the job stayed queued for ever
    data, env = tmp_path / "data", env_for(redis_url)
    job_id = submit(data, library, env)  # its scan task waits in the broker
    with DataDirLock(data):  # another process holds the embedded index
        refused = run_pixseek(data, "worker", "--name", "w4@test", env=env)
    assert refused.returncode == 1, refused.stderr
    assert f"the data directory {data} is in use by process" in refused.stderr
    assert "ready" not in refused.stderr
    assert job_in_redis(redis_url, job_id).state == "queued"
    assert redis.Redis.from_url(redis_url).llen("celery") == 1  # the scan task is still there
    worker = start_pixseek(
        data, "worker", "--name", "w4@test", env=env, log=tmp_path / "worker.log"
    )
    try:
        final = wait_for(
            lambda: (job := job_in_redis(redis_url, job_id)).finished and job, 120, "the job"
        )
    finally:
        stop(worker)
    assert (final.state, final.done, final.failed) == ("done", IMAGES, 3)


@pytest.mark.parametrize("persistence", ["appendonly", "none"])
def test_a_redis_killed_mid_job_loses_no_task_and_no_count(
    tmp_path: Path, library: GeneratedLibrary, persistence: str
) -> None:
    # the issue: after a kill -9 of Redis a job ended done=568, failed=2 of 602 while the
    # index held all 600 (an ingest task was rejected with requeue=False); without persistence
    # the job's remaining files stayed queued with no task to process them
    server = RedisServer(tmp_path / "redis", appendonly=persistence == "appendonly").start()
    data = tmp_path / "data"
    env = env_for(server.url, batch_size="8", worker_claim="32")
    worker = start_pixseek(data, "worker", "--name", "w5@test", env=env, log=tmp_path / "w.log")
    try:
        job_id = submit(data, library, env)
        wait_for(lambda: indexed_rows(data) >= IMAGES // 4, 120, "a quarter indexed", 0.01)
        server.kill()
        assert indexed_rows(data) < IMAGES, "the kill should land mid-job"
        time.sleep(2)
        server.start()  # on the same port: the worker connects again
        wait_for(lambda: pending_files(data) == 0, 120, "no file left queued")
        ended = wait_for(lambda: every_job_ended(server.url), 60, "every job to end")
    finally:
        stop(worker)
        server.stop()
    assert indexed(data) == (IMAGES, IMAGES)
    if persistence == "appendonly":  # the job survived: its counts are the catalog's
        (job,) = [j for j in ended if j.id == job_id]
        assert (job.state, job.total, job.done, job.failed) == ("done", IMAGES + 3, IMAGES, 3)
    else:  # the job went with Redis: its files were given a job of their own
        assert ended and all(job.state == "done" for job in ended)


def pending_files(data: Path) -> int | None:
    try:
        with closing(sqlite3.connect(data / "catalog.sqlite3", timeout=1)) as db:
            row = db.execute("SELECT count(*) FROM files WHERE status = 'pending'").fetchone()
            return int(row[0])
    except sqlite3.OperationalError:
        return None


def every_job_ended(redis_url: str) -> list[Job] | None:
    try:
        jobs = RedisJobStore(redis.Redis.from_url(redis_url)).list()
    except redis.exceptions.ConnectionError:
        return None
    return jobs if all(job.finished for job in jobs) else None
