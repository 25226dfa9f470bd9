"""The library's model state: the active model, a switch's target, cut-over, abandon, retire
(on SQLite and on PostgreSQL)."""

from __future__ import annotations

import pytest

from pixseek.errors import ConflictError
from pixseek.store.catalog import Catalog, FileState
from pixseek.store.db import Database
from pixseek.store.modelstate import ModelState, ModelStore, model_id

OLD, NEW = "pixseek-tiny", "pixseek-tiny-b"


@pytest.fixture
def catalog(database: Database) -> Catalog:
    return Catalog(database)


@pytest.fixture
def store(database: Database) -> ModelStore:
    return ModelStore(database, OLD)


def file_models(catalog: Catalog) -> dict[str, str | None]:
    return {path: r.model_id for path, r in catalog.records_under(["/lib"]).items()}


def test_a_new_library_searches_with_the_configured_model(store: ModelStore) -> None:
    state = store.read()
    assert state == ModelState(active=OLD, configured=OLD)
    assert not state.switching and state.writing() == [OLD]


def test_the_state_outlives_the_process_and_ignores_a_new_default(
    store: ModelStore, database: Database
) -> None:
    store.begin(NEW, "job1")
    again = ModelStore(database, "ViT-B-32:none")
    assert again.read() == ModelState(OLD, NEW, "job1", None, OLD)


def test_a_switch_writes_both_models_and_refuses_a_second_one(store: ModelStore) -> None:
    with pytest.raises(ConflictError, match="active model already"):
        store.begin(f" {OLD}", "job0")
    state = store.begin(NEW, "job1")
    assert state.switching and state.writing() == [OLD, NEW]
    with pytest.raises(ConflictError, match="job1"):
        store.begin("ViT-B-32:none", "job2")
    assert store.read().job_id == "job1"


def test_the_cut_over_makes_the_target_active_and_relabels_indexed_files(
    store: ModelStore, catalog: Catalog
) -> None:
    catalog.mark_indexed([(FileState("/lib/a.jpg", 1, 1), "a" * 64)], model_id(OLD))
    catalog.mark_failed(FileState("/lib/b.jpg", 1, 1), None, "unreadable")
    store.begin(NEW, "job1")
    assert not store.cut_over("another job")
    assert store.cut_over("job1")
    assert not store.cut_over("job1"), "a step sent twice cuts over once"
    state = store.read()
    assert (state.active, state.target, state.retired, state.job_id) == (NEW, None, OLD, "job1")
    assert state.switching and state.writing() == [NEW]
    assert file_models(catalog) == {"/lib/a.jpg": model_id(NEW), "/lib/b.jpg": None}


def test_dropping_the_old_vectors_ends_the_switch(store: ModelStore, catalog: Catalog) -> None:
    store.begin(NEW, "job1")
    store.cut_over("job1")
    # a batch embedded by both models, in flight at the cut-over, marks its files afterwards
    catalog.mark_indexed([(FileState("/lib/late.jpg", 1, 1), "c" * 64)], model_id(OLD))
    assert store.retired_dropped("job1")
    assert store.read() == ModelState(active=NEW, configured=OLD)
    assert file_models(catalog) == {"/lib/late.jpg": model_id(NEW)}
    assert not store.retired_dropped("job1")


def test_an_abandoned_switch_retires_its_target(store: ModelStore) -> None:
    store.begin(NEW, "job1")
    assert store.abandon("another job") is None
    assert store.abandon("job1") == NEW
    state = store.read()
    assert (state.active, state.target, state.retired) == (OLD, None, NEW)
    assert state.switching, "until the partial vectors are dropped"
    assert store.retired_dropped("job1")
    assert store.read() == ModelState(active=OLD, configured=OLD)


def test_no_abandon_after_the_cut_over(store: ModelStore) -> None:
    store.begin(NEW, "job1")
    store.cut_over("job1")
    assert store.abandon("job1") is None
    assert store.read().active == NEW


def test_pixseek_model_is_remembered_when_it_starts_a_switch_or_is_acknowledged(
    store: ModelStore,
) -> None:
    store.begin(NEW, "job1", configured=NEW)
    assert store.read().configured == NEW
    store.acknowledge("ViT-B-32:none")
    assert store.read().configured == "ViT-B-32:none"
