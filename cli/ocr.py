"""`pixseek ocr`: read the text in photos indexed before PIXSEEK_OCR=on (a job)."""

from __future__ import annotations

import json

import click

from cli.jobs import follow, job_line
from cli.support import progress_bar, reports_errors
from pixseek.errors import PixseekError
from pixseek.jobs.job import Job
from pixseek.jobs.names import OCR
from pixseek.jobs.stores import open_job_store
from pixseek.library import Library
from pixseek.settings import Settings
from pixseek.switch.ocrfill import run_ocr, start_ocr
from workers.app import make_celery


@click.command("ocr")
@click.option("--detach", is_flag=True, help="Server mode: print the job id and return at once.")
@click.option("--json", "as_json", is_flag=True, help="Print the job as one JSON document.")
@click.pass_obj
@reports_errors
def ocr_command(settings: Settings, detach: bool, as_json: bool) -> None:
    """Read the text in every indexed photo that has none read yet (Tesseract), so the text
    search finds it; new photos are read at ingest with PIXSEEK_OCR=on. Stopped or cancelled,
    it goes on where it was when started again. The embedded mode runs it here (while
    `pixseek serve` runs, use POST /api/v1/admin/ocr); server mode sends it to the workers."""
    if settings.server_mode:
        job_id = submit_ocr(settings)
        if detach:
            click.echo(json.dumps({"job": job_id}) if as_json else job_id)
            return
        job = follow(open_job_store(settings), job_id)
    else:
        job = ocr_here(settings)
    click.echo(json.dumps(job.as_dict(), indent=2) if as_json else job_line(job))
    if job.state != "done":
        raise PixseekError(f"the OCR job did not end well: job {job.id} {job.state}: {job.error}")


def submit_ocr(settings: Settings) -> str:
    """Start an OCR job and send its first step to the workers; returns the job id."""
    jobs = open_job_store(settings)
    with Library(settings) as library:
        job = start_ocr(library, jobs)
    make_celery(settings).send_task(OCR, args=[job.id])
    return job.id


def ocr_here(settings: Settings) -> Job:
    """The embedded mode: the whole job in this process, with a progress bar."""
    with Library(settings) as library:
        jobs = open_job_store(settings, library.database)
        job = start_ocr(library, jobs)
        with progress_bar(f"ocr {job.id}") as show_progress:

            def show() -> None:
                now = jobs.get(job.id)
                if now is not None:
                    show_progress(now.done + now.failed, now.total)

            run_ocr(library, jobs, job.id, library.settings.worker_claim, show)
        found = jobs.get(job.id)
    assert found is not None
    return found
