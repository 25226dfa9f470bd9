"""What to resume after a restart: a plain decision over the catalog, the job store and the
model state, returned for the caller to send as tasks (the core never sends a task). It draws
on every room (jobs, ops, switch), so it lives above them.

- claims of the dead process go back to the queue, files whose point went missing are queued
  again, and every job with queued files is to be resumed (jobs/runner.py reconcile);
- the only process (the embedded mode, worker None) also ends the backups, evals and OCR
  jobs its dead run left and resumes a model switch, whose next step lived in its memory; a
  server's broker still holds those;
- a changed PIXSEEK_MODEL asks for a switch to it, once.
"""

from __future__ import annotations

from dataclasses import dataclass

from pixseek.indexing.ingest import Ingester
from pixseek.jobs.job import JobStore
from pixseek.jobs.runner import Queued, reconcile
from pixseek.library import Library
from pixseek.ops.backup import abandon_backup_jobs
from pixseek.quality.evaljob import abandon_eval_jobs
from pixseek.switch.modelswitch import Step, Walk, resume, switch_from_settings
from pixseek.switch.ocrfill import abandon_ocr_jobs


@dataclass(frozen=True)
class Recovery:
    """What to send: ingest tasks per job, and model-switch steps as (job id, step)."""

    ingest: dict[str, Queued]
    switch_steps: list[tuple[str, Step]]


def plan_recovery(
    library: Library, ingester: Ingester, jobs: JobStore, worker: str | None, claim: int
) -> Recovery:
    """After a restart of this worker (or of the only process, worker None)."""
    resumed = reconcile(ingester, jobs, worker, claim)
    steps: list[tuple[str, Step]] = []
    if worker is None:
        abandon_backup_jobs(jobs)
        abandon_eval_jobs(jobs)
        abandon_ocr_jobs(jobs)
        unfinished = resume(library, jobs)
        if unfinished is not None:
            steps.append(unfinished)
    requested = switch_from_settings(library, jobs)
    if requested is not None:
        steps.append((requested.id, Step(next=Walk())))
    return Recovery(resumed, steps)
