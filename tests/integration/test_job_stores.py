"""One contract for the job stores: the store's database (SQLite embedded, PostgreSQL) and a
real Redis (server mode)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pixseek.jobs.job import JobCounts, JobStore
from pixseek.jobs.stores import RedisJobStore, SqlJobStore
from tests.conftest import empty_database
from tests.integration.services import redis_server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    if request.param == "redis":
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        yield RedisJobStore(client, prefix=f"test-{tmp_path.name}")
        return
    for database in empty_database(request, request.param, tmp_path):
        yield SqlJobStore(database)


def test_a_job_counts_progress_and_failures(store: JobStore) -> None:
    job = store.create("index", {"paths": ["/lib"]})
    assert store.get(job.id).state == "queued"  # type: ignore[union-attr]
    store.start(job.id)
    store.add_total(job.id, 10)
    store.add_total(job.id, 5, planned=True)
    store.record(job.id, 3)
    store.record(job.id, 2, [("/lib/bad.jpg", "truncated")])
    seen = store.get(job.id)
    assert seen is not None
    assert (seen.state, seen.total, seen.done, seen.failed, seen.planned) == (
        "running",
        15,
        5,
        1,
        True,
    )
    assert seen.failures == [("/lib/bad.jpg", "truncated")]
    assert seen.detail == {"paths": ["/lib"]}
    assert seen.images_per_second() > 0 and seen.eta_seconds() is not None


def test_a_job_finishes_once(store: JobStore) -> None:
    job = store.create("index")
    store.start(job.id)
    assert store.finish(job.id, "done")
    assert not store.finish(job.id, "failed", "too late")
    finished = store.get(job.id)
    assert finished is not None and finished.state == "done" and finished.finished_at
    assert finished.eta_seconds() == 0.0
    assert not store.request_cancel(job.id)


def test_cancel_is_a_request_the_workers_see(store: JobStore) -> None:
    job = store.create("index")
    assert store.request_cancel(job.id)
    seen = store.get(job.id)
    assert seen is not None and seen.cancel_requested and not seen.finished
    assert store.finish(job.id, "cancelled")


def test_list_is_newest_first_and_unknown_ids_are_none(store: JobStore) -> None:
    first = store.create("index")
    second = store.create("reindex")
    assert [job.id for job in store.list()][:2] == [second.id, first.id]
    assert store.get("no-such-job") is None


def test_a_job_ends_with_the_counts_it_is_given_and_counts_nothing_after(store: JobStore) -> None:
    # the counters a worker recorded missed a batch (the issue: done=568 of 600 after a kill -9
    # of Redis); the catalog's counts replace them as the job ends, and a late record is dropped
    job = store.create("index")
    store.add_total(job.id, 4, planned=True)
    store.record(job.id, 1, [("/lib/a.jpg", "first try")])
    counts = JobCounts(done=2, failed=2, failures=[("/lib/a.jpg", "bad"), ("/lib/b.jpg", "bad")])
    assert store.finish(job.id, "done", counts=counts)
    store.record(job.id, 5, [("/lib/c.jpg", "late")])
    assert not store.finish(job.id, "done", counts=JobCounts(9, 9, []))
    ended = store.get(job.id)
    assert ended is not None and (ended.state, ended.done, ended.failed) == ("done", 2, 2)
    assert ended.failures == [("/lib/a.jpg", "bad"), ("/lib/b.jpg", "bad")]


def test_detail_keys_are_merged_in_and_show_the_skipped_count(store: JobStore) -> None:
    job = store.create("index", {"paths": ["/photos"]})
    skipped = [{"path": "/photos/a.cr2", "reason": "camera RAW is not read yet"}]
    store.add_detail(job.id, {"skipped": 1, "skipped_files": skipped})
    found = store.get(job.id)
    assert found is not None
    assert found.detail == {"paths": ["/photos"], "skipped": 1, "skipped_files": skipped}
    assert found.skipped == found.as_dict()["skipped"] == 1
    store.add_detail("nosuchjob", {"skipped": 1})  # a gone job is left alone
    assert store.get("nosuchjob") is None
