"""The job runner without Celery: queue, ingest, reindex, cancel and reconcile on real files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from embed import Embedder, parse_model_spec
from pixseek.indexing.ingest import Ingester
from pixseek.jobs.runner import (
    cancel_file_job,
    ingest_queued,
    queue_reindex,
    queue_scan,
    reconcile,
)
from pixseek.jobs.stores import SqlJobStore
from pixseek.library import Library
from pixseek.photos.identity import file_sha256, point_id
from pixseek.settings import Settings
from tests.imagegen import textured_rgb
from tests.integration.library import GeneratedLibrary, generate_library

COUNT = 24


@pytest.fixture
def photos(tmp_path: Path) -> GeneratedLibrary:
    return generate_library(tmp_path / "lib", COUNT)


@pytest.fixture
def opened(settings: Settings, tiny_embedder: Embedder) -> Iterator[Library]:
    with Library(settings, serving=True) as library:
        library.use_embedder(tiny_embedder)
        yield library


def ingester_for(library: Library, embedder: Embedder | None = None) -> Ingester:
    embedder = embedder or library.embedder
    return Ingester(library.settings, library.index, library.catalog, lambda: [embedder])


def scan_and_ingest(library: Library, jobs: SqlJobStore, root: Path) -> str:
    job = jobs.create("index")
    ingester = ingester_for(library)
    queue_scan(ingester, jobs, job.id, [str(root)], claim=10)
    ingest_queued(ingester, jobs, job.id, "w@test", claim=10)
    return job.id


def test_a_job_queues_and_ingests_every_file(
    opened: Library, photos: GeneratedLibrary, tmp_path: Path
) -> None:
    jobs = SqlJobStore(opened.database)
    job = jobs.get(scan_and_ingest(opened, jobs, photos.root))
    assert job is not None
    assert (job.state, job.total, job.done, job.failed) == ("done", COUNT + 3, COUNT, 3)
    assert opened.index.count() == COUNT
    assert opened.catalog.pending_count(job.id) == 0


def test_a_job_lists_the_files_its_scan_skipped_with_why(opened: Library, tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    root.mkdir()
    textured_rgb(1).save(root / "photo.jpg")
    for name in ("notes.txt", "clip.mp4"):
        (root / name).write_bytes(b"not read")
    jobs = SqlJobStore(opened.database)
    job = jobs.get(scan_and_ingest(opened, jobs, root))
    assert job is not None
    assert (job.state, job.done, job.skipped) == ("done", 1, 2)
    assert job.as_dict()["skipped"] == 2
    reasons = {Path(item["path"]).name: item["reason"] for item in job.detail["skipped_files"]}
    assert reasons == {
        "notes.txt": "unsupported: .txt is not an image type pixseek reads",
        "clip.mp4": "unsupported: a video, not a photo",
    }


def test_reindex_all_embeds_every_file_again(
    opened: Library, photos: GeneratedLibrary, tmp_path: Path
) -> None:
    jobs = SqlJobStore(opened.database)
    scan_and_ingest(opened, jobs, photos.root)
    model = opened.embedder.model_id
    job = jobs.create("reindex")
    queued = queue_reindex(opened.catalog, jobs, job.id, model, claim=10, everything=True)
    assert queued.files == COUNT + 3 and queued.tasks == 3
    assert opened.catalog.shas_indexed_with(model) == set()  # nothing can be skipped as known
    ingest_queued(ingester_for(opened), jobs, job.id, "w@test", claim=10)
    assert jobs.get(job.id).state == "done"  # type: ignore[union-attr]
    assert opened.index.count() == COUNT


def test_reindex_missing_queues_what_another_model_has_not_embedded(
    opened: Library, photos: GeneratedLibrary, tmp_path: Path
) -> None:
    jobs = SqlJobStore(opened.database)
    scan_and_ingest(opened, jobs, photos.root)
    other = Embedder(parse_model_spec("pixseek-tiny-b"), device="cpu")
    job = jobs.create("reindex")
    queued = queue_reindex(opened.catalog, jobs, job.id, other.model_id, claim=50, everything=False)
    assert queued.files == COUNT + 3
    ingest_queued(ingester_for(opened, other), jobs, job.id, "w@test", claim=50)
    assert opened.index.vector_names()[other.model_id] == other.dim
    photo = photos.photos[5].path
    stored = opened.index.retrieve([point_id(file_sha256(photo))], vector=other.model_id)
    assert stored[0].vector is not None and np.isclose(
        np.linalg.norm(stored[0].vector), 1, atol=1e-3
    )


def test_a_cancelled_job_processes_nothing_more_and_gives_its_files_back(
    opened: Library, photos: GeneratedLibrary, tmp_path: Path
) -> None:
    jobs = SqlJobStore(opened.database)
    job = jobs.create("index")
    ingester = ingester_for(opened)
    queue_scan(ingester, jobs, job.id, [str(photos.root)], claim=10)
    jobs.request_cancel(job.id)
    assert ingest_queued(ingester, jobs, job.id, "w@test", claim=10) == 0
    assert jobs.get(job.id).state == "cancelled"  # type: ignore[union-attr]
    # new files leave the queue (and the catalog): the next scan finds them again
    assert opened.catalog.pending_count(job.id) == 0 and opened.catalog.status_counts() == {}
    again = jobs.create("index")
    assert queue_scan(ingester, jobs, again.id, [str(photos.root)], claim=10).files == COUNT + 3


def test_cancelling_a_job_no_worker_holds_ends_it_at_once(
    opened: Library, photos: GeneratedLibrary, tmp_path: Path
) -> None:
    # its ingest tasks were lost (the issue: jobs stayed `running 0/62` through cancel)
    jobs = SqlJobStore(opened.database)
    scan_and_ingest(opened, jobs, photos.root)
    job = jobs.create("reindex")
    model = opened.embedder.model_id
    queue_reindex(opened.catalog, jobs, job.id, model, claim=10, everything=True)
    assert cancel_file_job(jobs, opened.catalog, job.id)
    ended = jobs.get(job.id)
    assert ended is not None and (ended.state, ended.done, ended.failed) == ("cancelled", 0, 0)
    assert opened.catalog.status_counts() == {"indexed": COUNT, "failed": 3}
    assert len(opened.catalog.shas_indexed_with(model)) == COUNT  # hashes and model kept
    assert not cancel_file_job(jobs, opened.catalog, job.id)  # ended already
    # a task that arrives later processes nothing
    assert ingest_queued(ingester_for(opened), jobs, job.id, "w@test", claim=10) == 0
    late = jobs.create("reindex")
    jobs.request_cancel(late.id)
    queued = queue_reindex(opened.catalog, jobs, late.id, model, claim=10, everything=True)
    assert queued.files == 0 and jobs.get(late.id).state == "cancelled"  # type: ignore[union-attr]
    assert opened.catalog.status_counts() == {"indexed": COUNT, "failed": 3}


def test_reconcile_requeues_leftovers_and_missing_points(
    opened: Library, photos: GeneratedLibrary, tmp_path: Path
) -> None:
    jobs = SqlJobStore(opened.database)
    scan_and_ingest(opened, jobs, photos.root)
    lost = photos.photos[2].path
    opened.index.delete([point_id(file_sha256(lost))])  # as if the index lost a write
    resumed = reconcile(ingester_for(opened), jobs, None, claim=10)
    assert len(resumed) == 1
    ((job_id, queued),) = resumed.items()
    assert queued.files == 1 and jobs.get(job_id).kind == "reconcile"  # type: ignore[union-attr]
    ingest_queued(ingester_for(opened), jobs, job_id, "w@test", claim=10)
    assert opened.index.count() == COUNT


class BatchRecordingEmbedder(Embedder):
    """The real tiny model, noting the size of every batch it is given."""

    def __init__(self) -> None:
        super().__init__(parse_model_spec("pixseek-tiny"), device="cpu")
        self.batches: list[int] = []

    def embed_images(self, images):  # type: ignore[no-untyped-def]
        self.batches.append(len(images))
        return super().embed_images(images)


def test_files_arriving_one_job_each_share_full_model_batches(
    opened: Library, photos: GeneratedLibrary, tmp_path: Path
) -> None:
    jobs = SqlJobStore(opened.database)
    embedder = BatchRecordingEmbedder()
    ingester = ingester_for(opened, embedder)
    single_jobs = []
    for photo in photos.photos:  # as uploads would come: one file, one job
        job = jobs.create("upload")
        queue_scan(ingester, jobs, job.id, [str(photo.path)], claim=256)
        single_jobs.append(job.id)
    ingest_queued(ingester, jobs, single_jobs[0], "w@test", claim=256)
    # without topping up, each one-file job would be a batch of its own: [1] * COUNT
    assert opened.settings.batch_size > COUNT and embedder.batches == [COUNT]
    assert all(jobs.get(j).state == "done" for j in single_jobs)  # type: ignore[union-attr]
    assert all(jobs.get(j).done == 1 for j in single_jobs)  # type: ignore[union-attr]
