"""The model switch's job runner without Celery, on real files, the tiny models and every index
backend: Qdrant Edge, qdrant-client's local mode standing in for a server, and a real Qdrant
server when PIXSEEK_TEST_QDRANT_URL names one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from embed import Embedder
from pixseek.indexing.ingest import Indexer, Ingester
from pixseek.jobs.stores import SqlJobStore
from pixseek.library import Library
from pixseek.photos.identity import file_sha256, point_id
from pixseek.search.search import QueryTerm, SearchRequest, search
from pixseek.settings import Settings
from pixseek.store.modelstate import ModelState, model_id
from pixseek.switch.modelswitch import (
    Walk,
    request_switch,
    resume,
    run_step,
    run_switch,
    switch_from_settings,
)
from tests.conftest import sqlite_store
from tests.web.photos import write_jpegs

OLD, NEW = "pixseek-tiny", "pixseek-tiny-b"
PHOTOS = 40
CLAIM = 16


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[SqlJobStore]:
    database = sqlite_store(tmp_path / "jobs")
    yield SqlJobStore(database)
    database.close()


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    return write_jpegs(tmp_path / "lib", range(PHOTOS), size=(96, 64))


def open_library(settings: Settings, tiny_embedder: Embedder, backend: str = "edge") -> Library:
    library = Library(settings).open()
    library.use_embedder(tiny_embedder)
    if backend != "edge":  # the index on qdrant-client, behind the library's back
        from qdrant_client import QdrantClient

        from pixseek.index.server.collection import QdrantServerIndex

        if backend == "qdrant-local":
            client = QdrantClient(path=str(settings.data_dir / "qdrant-local"))
        else:
            client = QdrantClient(url=os.environ["PIXSEEK_TEST_QDRANT_URL"])
        library.index.close()
        name = f"pixseek-test-{uuid.uuid4().hex[:8]}"
        library._index = QdrantServerIndex(client, name)
    return library


@pytest.fixture(
    params=["edge", "qdrant-local", pytest.param("qdrant-server", marks=pytest.mark.qdrant_server)]
)
def library(
    request: pytest.FixtureRequest, settings: Settings, tiny_embedder: Embedder
) -> Iterator[Library]:
    if request.param == "qdrant-server" and not os.environ.get("PIXSEEK_TEST_QDRANT_URL"):
        pytest.skip("set PIXSEEK_TEST_QDRANT_URL to switch models on a Qdrant server")
    opened = open_library(settings, tiny_embedder, request.param)
    yield opened
    if request.param == "qdrant-server":
        from pixseek.index.server.collection import QdrantServerIndex

        assert isinstance(opened.index, QdrantServerIndex)
        for collection in set(opened.index.layout.collections().values()):
            opened.index.client.delete_collection(collection)
    opened.close()


def index(library: Library, *roots: Path) -> None:
    indexer = Indexer(Ingester.of(library))
    indexer.run([str(root) for root in roots])


def found(library: Library, photo: Path) -> str:
    """The id of the best hit for a photo used as the query, with the model searches use."""
    request = SearchRequest((QueryTerm("image", photo),), limit=1)
    return search(request, library.embedder, library.index)[0].id


def test_a_switch_fills_the_new_vector_cuts_over_and_drops_the_old(
    library: Library, jobs: SqlJobStore, photos: list[Path]
) -> None:
    index(library, photos[0].parent)
    job = request_switch(library, jobs, NEW)
    assert (job.kind, job.detail) == ("model-switch", {"from": OLD, "to": NEW})
    seen: list[str] = []
    run_switch(library, jobs, job.id, CLAIM, lambda: seen.append(library.model_state().active))
    assert seen[0] == OLD and seen[-1] == NEW
    assert library.model_state() == ModelState(active=NEW, configured=OLD)
    assert library.index.vector_names() == {model_id(NEW): 48}
    done = jobs.get(job.id)
    assert done is not None and (done.state, done.total, done.done, done.failed) == (
        "done", PHOTOS, PHOTOS, 0)  # fmt: skip
    assert library.embedder.model_id == model_id(NEW)
    assert found(library, photos[3]) == point_id(file_sha256(photos[3]))
    records = library.catalog.records_under([str(photos[0].parent)]).values()
    assert {r.model_id for r in records} == {model_id(NEW)}


def test_photos_added_during_the_backfill_get_both_models(
    library: Library, jobs: SqlJobStore, photos: list[Path], tmp_path: Path
) -> None:
    index(library, photos[0].parent)
    job = request_switch(library, jobs, NEW)
    step = run_step(library, jobs, job.id, Walk(), CLAIM)
    assert step.next is not None and library.model_state().active == OLD
    added = write_jpegs(tmp_path / "more", range(500, 505), size=(96, 64))
    index(library, tmp_path / "more")
    stored = library.index.retrieve([point_id(file_sha256(added[0]))], vector=model_id(NEW))
    assert stored and stored[0].vector is not None
    assert found(library, added[1]) == point_id(file_sha256(added[1])), "the old model serves"
    while step.next is not None:
        step = run_step(library, jobs, job.id, step.next, CLAIM)
    assert step.retire and library.model_state().active == NEW
    assert found(library, added[2]) == point_id(file_sha256(added[2]))


def test_cancelling_abandons_the_switch_and_drops_the_partial_vectors(
    library: Library, jobs: SqlJobStore, photos: list[Path]
) -> None:
    index(library, photos[0].parent)
    job = request_switch(library, jobs, NEW)
    step = run_step(library, jobs, job.id, Walk(), CLAIM)
    assert step.next is not None
    jobs.request_cancel(job.id)
    assert run_step(library, jobs, job.id, step.next, CLAIM).next is None
    assert library.model_state() == ModelState(active=OLD, configured=OLD)
    assert library.index.vector_names() == {model_id(OLD): 64}
    assert jobs.get(job.id).state == "cancelled"  # type: ignore[union-attr]
    assert found(library, photos[5]) == point_id(file_sha256(photos[5]))
    again = request_switch(library, jobs, NEW)  # nothing left in the way
    run_switch(library, jobs, again.id, CLAIM, lambda: None)
    assert library.model_state().active == NEW


def test_a_switch_resumes_after_a_crash_where_the_index_says(
    library: Library, jobs: SqlJobStore, photos: list[Path]
) -> None:
    index(library, photos[0].parent)
    job = request_switch(library, jobs, NEW)
    run_step(library, jobs, job.id, Walk(), CLAIM)  # then the process dies
    resumed = resume(library, jobs)
    assert resumed is not None and resumed[0] == job.id and resumed[1].next == Walk()
    run_switch(library, jobs, job.id, CLAIM, lambda: None)
    done = jobs.get(job.id)
    assert done is not None and (done.state, done.done) == ("done", PHOTOS)
    assert resume(library, jobs) is None


def test_a_photo_no_file_can_give_the_new_vector_leaves_and_its_file_fails(
    library: Library, jobs: SqlJobStore, photos: list[Path]
) -> None:
    index(library, photos[0].parent)
    photos[7].write_bytes(b"edited since it was indexed")
    gone = point_id(file_sha256(photos[8]))
    photos[8].unlink()
    job = request_switch(library, jobs, NEW)
    run_switch(library, jobs, job.id, CLAIM, lambda: None)
    done = jobs.get(job.id)
    assert done is not None and (done.state, done.done, done.failed) == ("done", PHOTOS - 2, 2)
    assert {path for path, _ in done.failures} == {str(photos[7]), str(photos[8])}
    assert library.index.count() == PHOTOS - 2 and library.index.retrieve([gone]) == []
    record = library.catalog.records_under([str(photos[8])])[str(photos[8])]
    assert record.status == "failed" and "model switch" in (record.error or "")


def test_a_changed_pixseek_model_asks_for_a_switch_once(
    settings: Settings, tiny_embedder: Embedder, jobs: SqlJobStore, photos: list[Path]
) -> None:
    first = open_library(settings, tiny_embedder)
    index(first, photos[0].parent)
    assert switch_from_settings(first, jobs) is None
    first.close()
    library = open_library(settings.model_copy(update={"model": NEW}), tiny_embedder)
    try:
        assert library.model_state().active == OLD, "searches keep the model the index has"
        job = switch_from_settings(library, jobs)
        assert job is not None and library.model_state().configured == NEW
        assert switch_from_settings(library, jobs) is None
        run_switch(library, jobs, job.id, CLAIM, lambda: None)
        assert library.model_state() == ModelState(active=NEW, configured=NEW)
    finally:
        library.close()
