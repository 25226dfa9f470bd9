"""The Celery app factory, and the module-level app that `celery -A workers.app` points at.

Server mode: PIXSEEK_BROKER_URL=redis://... and `pixseek worker` processes. Embedded mode: an
in-memory transport and a worker thread inside the `pixseek serve` process; no Redis.
"""

from __future__ import annotations

import functools

from celery import Celery

from pixseek.settings import Settings, load_settings

EMBEDDED_BROKER = "memory://"


def make_celery(settings: Settings) -> Celery:
    """A Celery app for these settings, with pixseek's tasks registered."""
    app = Celery("pixseek", broker=settings.broker_url or EMBEDDED_BROKER)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,  # a task that dies with its worker runs again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # ingest tasks are long: do not hoard them
        task_ignore_result=True,  # progress lives in the job store, not in results
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600},
        worker_hijack_root_logger=False,
    )
    app.conf.pixseek_settings = settings
    from workers import tasks

    tasks.register(app)
    return app


@functools.cache
def _app_from_environment() -> Celery:
    return make_celery(load_settings())


def __getattr__(name: str) -> Celery:
    # `celery -A workers.app` looks up `app` here; building it on that first look (not at
    # import) keeps importing this module free of reading settings.
    if name in ("app", "celery"):
        return _app_from_environment()
    raise AttributeError(f"module 'workers.app' has no attribute {name!r}")
