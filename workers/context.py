"""What a worker process holds: built once per process, after fork, and handed to the tasks."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from celery import Celery

from pixseek.ingest import Ingester
from pixseek.jobs import JobStore
from pixseek.jobstores import open_job_store
from pixseek.library import Library
from pixseek.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class WorkerContext:
    settings: Settings
    library: Library
    jobs: JobStore
    ingester: Ingester

    def close(self) -> None:
        self.library.close()


_contexts: dict[int, WorkerContext] = {}
_lock = threading.Lock()


def install(app: Celery, context: WorkerContext) -> None:
    """Use an existing context (the serve process's own library) for this app's tasks."""
    with _lock:
        _contexts[id(app)] = context


def context_for(app: Celery) -> WorkerContext:
    """The context of this process, built on first use: the model loads once per process."""
    with _lock:
        if id(app) not in _contexts:
            _contexts[id(app)] = build(app.conf.pixseek_settings)
        return _contexts[id(app)]


def build(settings: Settings) -> WorkerContext:
    """Open the library, load and warm the model, connect the job store."""
    library = Library(settings, serving=True).open()
    library.embedder.warm_up()  # the first search or batch is not the slow one
    ingester = Ingester(
        settings, library.embedder, library.index, library.catalog, library.writing_embedders
    )  # during a model switch, new photos are embedded by both models
    return WorkerContext(settings, library, open_job_store(settings), ingester)
