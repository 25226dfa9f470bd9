"""What a worker process holds: built once per process, after fork, and handed to the tasks."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from celery import Celery

from pixseek.indexing.ingest import Ingester
from pixseek.indexing.precision import follow_library
from pixseek.jobs.job import JobStore
from pixseek.jobs.stores import open_job_store
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


CONTEXT_KEY = "pixseek_context"  # where an app keeps its context, in its configuration
_lock = threading.Lock()  # two tasks starting at once build one context


def install(app: Celery, context: WorkerContext) -> None:
    """Use an existing context (the serve process's own library) for this app's tasks."""
    with _lock:
        app.conf[CONTEXT_KEY] = context


def context_for(app: Celery) -> WorkerContext:
    """The app's context, built on first use: the model loads once per process. It lives on
    the app itself, so two apps in one process (tests) never share or mistake one."""
    with _lock:
        context: WorkerContext | None = app.conf.get(CONTEXT_KEY)
        if context is None:
            context = build(app.conf.pixseek_settings)
            app.conf[CONTEXT_KEY] = context
        return context


def build(settings: Settings) -> WorkerContext:
    """Open the library, load and warm the model, connect the job store."""
    library = Library(settings, serving=True).open()
    follow_library(library.embedder, settings)  # warm the precision the library checked
    library.embedder.warm_up()  # the first search or batch is not the slow one
    ingester = Ingester.of(library)  # during a model switch, new photos get both models
    return WorkerContext(settings, library, open_job_store(settings, library.database), ingester)
