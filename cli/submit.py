"""Server mode: sending a job to the workers through the broker (`pixseek index`, `pixseek
model switch`), instead of running it in this process."""

from __future__ import annotations

from pixseek.jobs.names import SCAN, SWITCH
from pixseek.jobs.stores import open_job_store
from pixseek.library import Library
from pixseek.settings import Settings
from pixseek.store.catalog import Catalog
from pixseek.store.schema import open_database
from pixseek.switch.modelswitch import request_switch
from workers.app import make_celery


def submit_model_switch(settings: Settings, spec: str) -> str:
    """Start a model switch and send its first step to the workers; returns the job id."""
    jobs = open_job_store(settings)
    with Library(settings) as library:
        job = request_switch(library, jobs, spec)
    make_celery(settings).send_task(SWITCH, args=[job.id])
    return job.id


def submit_index(settings: Settings, roots: list[str]) -> str:
    """Create an index job and send its scan task to the broker; returns the job id."""
    database = open_database(settings)
    try:
        Catalog(database).add_roots(roots)  # the admin page's rescan looks at these again
    finally:
        database.close()
    jobs = open_job_store(settings)
    job = jobs.create("index", {"paths": roots})
    make_celery(settings).send_task(SCAN, args=[job.id, roots])
    return job.id
