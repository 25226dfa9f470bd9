"""A library: the data directory's lock, catalog, index and model, opened and closed together."""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from embed import EmbedError, ModelUnavailableError, parse_model_spec
from embed.memory import set_decode_budget
from pixseek.index import VectorIndex, backend_name, open_index
from pixseek.settings import Settings
from pixseek.store.catalog import Catalog
from pixseek.store.db import Database
from pixseek.store.lock import DataDirLock
from pixseek.store.modelstate import ModelState, ModelStore, model_id, read_state
from pixseek.store.schema import open_as_it_is, open_database

if TYPE_CHECKING:
    from embed.model import Embedder

log = logging.getLogger(__name__)


class Library:
    """Resources of one data directory. Models load on first use, not on open.

    The model searches use is the library's active model (see modelstate.py), read at every
    use, so a model switch cuts over in a running process without a restart. warm_target: load
    a switch's new model in the background as soon as one is seen, so the cut-over finds it
    loaded (web processes of server mode, which do not embed photos themselves)."""

    def __init__(self, settings: Settings, serving: bool = False, warm_target: bool = False):
        self.settings = settings
        self.serving = serving
        self.warm_target = warm_target
        self._lock = DataDirLock(settings.data_dir)
        self._database: Database | None = None
        self._catalog: Catalog | None = None
        self._models: ModelStore | None = None
        self._index: VectorIndex | None = None
        self._embedders: dict[str, Embedder] = {}  # by model id
        self._embedders_lock = threading.Lock()
        self._warming: set[str] = set()
        self._unloadable: set[tuple[str | None, str]] = set()  # (switch job, model) failed

    def open(self) -> Library:
        # every process that decodes images opens a library first; memory is the process's
        set_decode_budget(self.settings.decode_memory_bytes)
        if self.settings.index_is_exclusive:
            self._lock.acquire()
        try:
            self._database = open_database(self.settings)
            self._catalog = Catalog(self._database, lease=self.settings.claim_lease)
            self._models = ModelStore(self._database, self.settings.model)
            self._index = open_index(self.settings, self.serving)
        except BaseException:
            self.close()
            raise
        _say_if_model_changed(self.settings.model, self._models.read())
        return self

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
        if self._models is not None:
            self._models.close()
            self._models = None
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None
        if self._database is not None:
            self._database.close()
            self._database = None
        self._lock.release()

    @property
    def database(self) -> Database:
        """The store's database (catalog, model state, users, embedded jobs)."""
        assert self._database is not None, "open() the library first"
        return self._database

    @property
    def catalog(self) -> Catalog:
        assert self._catalog is not None, "open() the library first"
        return self._catalog

    @property
    def model_store(self) -> ModelStore:
        assert self._models is not None, "open() the library first"
        return self._models

    @property
    def index(self) -> VectorIndex:
        assert self._index is not None, "open() the library first"
        return self._index

    def model_state(self) -> ModelState:
        return self.model_store.read()

    @property
    def embedder(self) -> Embedder:
        """The model searches use now."""
        state = self.model_state()
        self._forget_unused(state)
        if self.warm_target and state.target:
            self._warm(state.target)
        return self.embedder_for(state.active)

    def writing_embedders(self) -> list[Embedder]:
        """The models new photos are embedded with: the active one, and a switch's target.

        A target that cannot load is left out (and not tried again while the switch lasts):
        it fails its switch job (the switch step loads it too), never the ingest of the
        active model. Points written meanwhile lack its vector, which the backfill gives them."""
        state = self.model_state()
        writing = [self.embedder_for(state.active)]
        if state.target and (state.job_id, state.target) not in self._unloadable:
            try:
                writing.append(self.loaded_embedder(state.target))
            except EmbedError as exc:
                self._unloadable.add((state.job_id, state.target))
                log.error("new photos are embedded without %s, which cannot load: %s",
                          state.target, exc)  # fmt: skip
        return writing

    def loaded_embedder(self, spec: str) -> Embedder:
        """The embedder of a model spec, loaded. Whatever goes wrong while loading (a file
        torch cannot read raises anything from IndexError to UnpicklingError) comes out as an
        EmbedError saying which model could not load."""
        embedder = self.embedder_for(spec)
        try:
            embedder.load()
        except EmbedError:
            raise
        except Exception as exc:  # see above: a bad weights file raises any exception type
            raise ModelUnavailableError(
                f"model {spec} cannot load: {type(exc).__name__}: {exc}"
            ) from exc
        return embedder

    def embedder_for(self, spec: str) -> Embedder:
        """The embedder of a model spec, made once per process (it loads on first use)."""
        model = parse_model_spec(spec)
        with self._embedders_lock:
            found = self._embedders.get(model.model_id)
            if found is None:
                from embed.model import Embedder  # torch loads here, only when something embeds

                found = Embedder(
                    model,
                    device=self.settings.device,
                    precision=self.settings.precision,
                    engine=self.settings.engine,
                    decode_threads=self.settings.decode_threads,
                    cache_dir=str(self.settings.model_cache_dir)
                    if self.settings.model_cache_dir
                    else None,
                )
                self._embedders[model.model_id] = found
        return found

    def use_embedder(self, embedder: Embedder) -> None:
        """Use an embedder made elsewhere for its model (tests share one loaded model)."""
        with self._embedders_lock:
            self._embedders[embedder.model_id] = embedder

    def _forget_unused(self, state: ModelState) -> None:
        """Let go of models a switch left behind, so their memory is freed."""
        keep = {model_id(spec) for spec in (state.active, state.target, state.retired) if spec}
        with self._embedders_lock:
            for unused in set(self._embedders) - keep:
                del self._embedders[unused]

    def _warm(self, spec: str) -> None:
        embedder = self.embedder_for(spec)
        with self._embedders_lock:
            if embedder.loaded or embedder.model_id in self._warming:
                return
            self._warming.add(embedder.model_id)
        threading.Thread(target=embedder.warm_up, name="pixseek-warm-model", daemon=True).start()

    def stats(self) -> dict[str, Any]:
        """Counts and configuration, for `pixseek stats`."""
        found = store_stats(self.settings, self.catalog, self.model_state())
        return found | {"vectors": self.index.vector_names(), "points": self.index.count()}

    def __enter__(self) -> Library:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def store_stats(settings: Settings, catalog: Catalog, state: ModelState) -> dict[str, Any]:
    """What the store says of a library (the index's counts are its opener's to add)."""
    counts = catalog.status_counts()
    return {
        "data_dir": str(settings.data_dir),
        "backend": backend_name(settings),
        "model": state.active,
        "model_id": model_id(state.active),
        "model_switch": _switch_summary(state),
        "vectors": None,
        "points": None,
        "files_indexed": counts.get("indexed", 0),
        "files_failed": counts.get("failed", 0),
        "files_queued": counts.get("pending", 0),
    }


def read_held_library(settings: Settings) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Stats and the first failed files of a library another process holds (`pixseek serve`):
    read from the store (SQLite in WAL mode lets readers in beside the writer), never writing;
    the index is that process's alone, so its vectors and points are not counted."""
    database = open_as_it_is(settings)
    try:
        catalog = Catalog(database)
        found = store_stats(settings, catalog, read_state(database))
        return found, catalog.failures(limit=20)
    finally:
        database.close()


def _switch_summary(state: ModelState) -> dict[str, Any] | None:
    if not state.switching:
        return None
    return {"target": state.target, "retired": state.retired, "job": state.job_id}


def _say_if_model_changed(configured: str, state: ModelState) -> None:
    if configured != state.configured and model_id(configured) != model_id(state.active):
        log.warning(
            "PIXSEEK_MODEL is %s, but this library searches with %s: a switch to it starts "
            "with the next `pixseek serve`, `pixseek worker` or `pixseek index` "
            "(or run `pixseek model switch %s`); searches keep working meanwhile",
            configured, state.active, configured,
        )  # fmt: skip
