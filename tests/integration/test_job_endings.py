"""How jobs end in the real embedded mode (EmbeddedRuntime: the in-process Celery worker): a
cancelled reindex stops within a model batch and gives its files back; a task that dies of
something other than a file fails its job with the reason."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pixseek.jobs.job import Job
from pixseek.jobs.names import REINDEX, SCAN
from pixseek.jobs.runner import cancel_file_job
from pixseek.settings import load_settings
from tests.conftest import TINY_MODEL
from tests.integration.library import GeneratedLibrary, generate_library
from tests.integration.services import wait_for
from workers.embedded import EmbeddedRuntime

IMAGES = 200
BATCH = 8


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> GeneratedLibrary:
    return generate_library(tmp_path_factory.mktemp("library"), IMAGES, size=(320, 240))


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[EmbeddedRuntime]:
    settings = load_settings(
        data_dir=tmp_path / "data", model=TINY_MODEL, device="cpu", batch_size=BATCH,
        worker_claim=64,
    )  # fmt: skip
    with EmbeddedRuntime(settings) as started:
        yield started


def wait_job(runtime: EmbeddedRuntime, job_id: str, timeout: float = 120) -> Job:
    def ended() -> Job | None:
        job = runtime.context.jobs.get(job_id)
        return job if job is not None and job.finished else None

    found: Job = wait_for(ended, timeout, f"job {job_id} to end", every=0.01)
    return found


def catalog_rows(runtime: EmbeddedRuntime, root: Path) -> dict[str, tuple[Any, ...]]:
    """Each file's status, content hash, model, size and mtime."""
    records = runtime.context.library.catalog.records_under([str(root)])
    return {p: (r.status, r.sha256, r.model_id, r.size, r.mtime_ns) for p, r in records.items()}


def test_a_cancelled_reindex_stops_within_a_batch_and_gives_its_files_back(
    runtime: EmbeddedRuntime, library: GeneratedLibrary
) -> None:
    # the issue: cancelling "Reindex all" left 66 files queued with no job, and ~60 more files
    # were processed after the click
    first = wait_job(runtime, runtime.index([str(library.root)]).id)
    assert (first.state, first.done, first.failed) == ("done", IMAGES, 3)
    before = catalog_rows(runtime, library.root)
    assert len(before) == IMAGES + 3
    jobs, catalog = runtime.context.jobs, runtime.context.library.catalog
    job = jobs.create("reindex", {"scope": "all"})
    runtime.send_task(REINDEX, [job.id, True])

    def processed() -> int:
        counts = catalog.job_counts(job.id)
        return counts.done + counts.failed

    deadline = time.monotonic() + 60
    while processed() < BATCH and time.monotonic() < deadline:
        time.sleep(0.002)
    at_cancel = processed()
    assert cancel_file_job(jobs, catalog, job.id)  # what the cancel endpoint does
    ended = wait_job(runtime, job.id)

    assert ended.state == "cancelled"
    assert BATCH <= ended.done + ended.failed == processed() <= at_cancel + BATCH
    assert ended.done + ended.failed < IMAGES + 3, "the cancel should land mid-job"
    assert catalog.status_counts().get("pending", 0) == 0
    assert catalog_rows(runtime, library.root) == before  # processed again or given back
    assert runtime.context.library.index.count() == IMAGES


def test_a_task_dying_of_something_else_than_a_file_fails_its_job(
    runtime: EmbeddedRuntime,
) -> None:
    # the issue: a scan task that failed outside the job's files left its job queued for ever
    job = runtime.context.jobs.create("index", {"paths": ["/tmp/a\x00b"]})
    runtime.send_task(SCAN, [job.id, ["/tmp/a\x00b"]])
    ended = wait_job(runtime, job.id, timeout=30)
    assert ended.state == "failed" and ended.error == "ValueError: embedded null byte", ended
