"""`pixseek jobs`: list, show and cancel jobs; and following one until it ends."""

from __future__ import annotations

import json
import time

import click

from cli.support import progress_bar, reports_errors
from pixseek.errors import NotFoundError
from pixseek.jobs.job import Job, JobStore
from pixseek.jobs.runner import FILE_JOB_KINDS, cancel_file_job
from pixseek.jobs.stores import open_job_store
from pixseek.settings import Settings
from pixseek.store.catalog import Catalog
from pixseek.store.schema import open_database

POLL_SECONDS = 0.5


@click.group("jobs", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
@reports_errors
def jobs_group(ctx: click.Context, as_json: bool) -> None:
    """List recent jobs (indexing, reindexing) with their progress."""
    if ctx.invoked_subcommand is not None:
        return
    listed = open_job_store(ctx.obj).list()
    if as_json:
        click.echo(json.dumps([job.as_dict() for job in listed], indent=2))
        return
    if not listed:
        click.echo("no jobs")
    for job in listed:
        click.echo(job_line(job))


@jobs_group.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
@reports_errors
def show_job(settings: Settings, job_id: str, as_json: bool) -> None:
    """Show one job: state, total, done, failed (with reasons), images/s and ETA."""
    job = get_job(open_job_store(settings), job_id)
    if as_json:
        click.echo(json.dumps(job.as_dict(), indent=2))
        return
    click.echo(job_line(job))
    for path, reason in job.failures:
        click.echo(f"  failed: {path}: {reason}")


@jobs_group.command("cancel")
@click.argument("job_id")
@click.pass_obj
@reports_errors
def cancel_job(settings: Settings, job_id: str) -> None:
    """Stop a job; workers stop within the model batch in hand, and its unprocessed files go
    back to where they were (a job no worker is processing ends at once)."""
    store = open_job_store(settings)
    job = get_job(store, job_id)
    if not _cancel(settings, store, job):
        click.echo(f"job {job.id} had already ended ({job.state})")
        return
    click.echo(f"cancelling job {job.id}: {job.done + job.failed} of {job.total} files processed")


def _cancel(settings: Settings, store: JobStore, job: Job) -> bool:
    if job.kind not in FILE_JOB_KINDS:
        return store.request_cancel(job.id)
    database = open_database(settings)
    try:
        return cancel_file_job(store, Catalog(database), job.id)
    finally:
        database.close()


def get_job(store: JobStore, job_id: str) -> Job:
    job = store.get(job_id)
    if job is None:
        raise NotFoundError(f"no job with id {job_id}")
    return job


def job_line(job: Job) -> str:
    eta = job.eta_seconds()
    eta_text = f", ETA {eta:.0f} s" if eta else ""
    skipped = f", {job.skipped} skipped" if job.skipped else ""
    return (
        f"{job.id}  {job.kind:<9} {job.state:<9} {job.done + job.failed}/{job.total} "
        f"({job.failed} failed{skipped}), {job.images_per_second():.1f} img/s{eta_text}"
    )


def follow(store: JobStore, job_id: str) -> Job:
    """Show a job's progress until it ends; returns its final state."""
    with progress_bar(f"job {job_id}") as show:
        while True:
            job = get_job(store, job_id)
            show(job.done + job.failed, job.total)
            if job.finished:
                return job
            time.sleep(POLL_SECONDS)
