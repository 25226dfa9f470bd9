"""The tasks: a few lines each, calling pixseek's job runner with this process's context.

Every task takes ids or paths, is idempotent (points are keyed by content hash; queued files are
claimed atomically), retries with backoff only when the broker or the index is unreachable, and
records unreadable images as failed without retrying them. Any other exception out of a task is
not a file's: it fails the task's job with the reason (JobTask.on_failure), so no job waits for
ever on a task that died.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task, bootsteps
from celery.signals import worker_ready

from pixseek.errors import PixseekError
from pixseek.jobs.names import BACKUP, EVAL, INGEST, OCR, REINDEX, RETIRE, SCAN, SWITCH
from pixseek.jobs.runner import (
    Queued,
    end_job,
    ingest_queued,
    queue_reindex,
    queue_scan,
    resume_queued,
)
from pixseek.ops.backup import run_backup_job
from pixseek.quality.evaljob import run_eval_job
from pixseek.recovery import plan_recovery
from pixseek.switch.modelswitch import (
    RETIRE_DELAY,
    Step,
    Walk,
    abandon_switch,
    retire_old_model,
    run_step,
)
from pixseek.switch.ocrfill import ocr_step
from workers.context import context_for

log = logging.getLogger(__name__)

SMALL_JOB_WAIT = 1.0  # seconds a job smaller than a model batch waits for company


def _transient_errors() -> tuple[type[BaseException], ...]:
    """Broker or index unreachable: worth a retry. Bad input never is."""
    import redis
    from qdrant_client.http.exceptions import ResponseHandlingException

    return (
        ConnectionError,
        TimeoutError,
        redis.exceptions.ConnectionError,
        ResponseHandlingException,
    )


class JobTask(Task):
    """A task whose first argument is its job's id. When it fails for good (an exception that
    is not retried, or retries run out), its job fails with the reason: a job must never stay
    queued or running after its task died. A lost broker is not such a failure (the task is
    rejected, not failed): ResumeAfterReconnect sends the work again."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        job_id = args[0] if args else kwargs.get("job_id")
        if job_id:
            fail_job(self.app, self.name, str(job_id), f"{type(exc).__name__}: {exc}")


TASK_OPTIONS: dict[str, Any] = {
    "base": JobTask,
    "bind": True,
    "shared": False,  # tasks belong to the app they were registered on, not to every app
    "acks_late": True,
    "autoretry_for": _transient_errors(),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 8,
}


def scan(task: Task, job_id: str, paths: list[str]) -> int:
    """Scan library folders for a job and queue ingest tasks for what changed."""
    context = context_for(task.app)
    try:
        queued = queue_scan(
            context.ingester, context.jobs, job_id, paths, context.settings.worker_claim
        )
    except PixseekError as exc:  # a folder that is not there: said, without a traceback
        end_job(context.jobs, context.library.catalog, job_id, "failed", str(exc))
        return 0
    send_ingest(task.app, job_id, queued)
    return queued.files


def ingest(task: Task, job_id: str) -> int:
    """Process a job's queued files (several of these may share one job)."""
    context = context_for(task.app)
    worker = task.request.hostname or "local"
    return ingest_queued(
        context.ingester, context.jobs, job_id, worker, context.settings.worker_claim,
        send_more=lambda other, queued: send_ingest(task.app, other, queued),
    )  # fmt: skip


def reindex(task: Task, job_id: str, everything: bool) -> int:
    """Queue every file again, or only those this model has not embedded."""
    context = context_for(task.app)
    settings = context.settings
    queued = queue_reindex(
        context.library.catalog, context.jobs, job_id, context.ingester.model_id,
        settings.worker_claim, everything,
    )  # fmt: skip
    send_ingest(task.app, job_id, queued)
    return queued.files


def model_switch(
    task: Task, job_id: str, start: str | None = None, walk: int = 1, filled: int = 0
) -> None:
    """One step of a model switch's backfill; the next step is a task of its own, so other
    jobs' tasks run in between."""
    context = context_for(task.app)
    claim = context.settings.worker_claim
    step = run_step(context.library, context.jobs, job_id, Walk(start, walk, filled), claim)
    send_switch_step(task.app, job_id, step)


def model_retire(task: Task, job_id: str) -> None:
    """End a model switch: drop the old model's vectors."""
    context = context_for(task.app)
    claim = context.settings.worker_claim
    retire_old_model(context.library, context.jobs, job_id, claim)


def backup(task: Task, job_id: str) -> None:
    """Back up the library into PIXSEEK_BACKUP_DIR, keeping the newest PIXSEEK_BACKUP_KEEP."""
    context = context_for(task.app)
    settings = context.settings
    run_backup_job(
        context.library, context.jobs, job_id, settings.backups_dir, settings.backup_keep
    )


def evaluate(task: Task, job_id: str) -> None:
    """Measure retrieval quality on a copy set of the library (the admin page's Quality
    panel); the report goes into DATA_DIR/eval."""
    context = context_for(task.app)
    run_eval_job(context.library, context.jobs, job_id)


def ocr(task: Task, job_id: str, start: str | None = None) -> None:
    """One step of an OCR job (text read in photos indexed without it); the next step is a
    task of its own, so other jobs' tasks run in between."""
    context = context_for(task.app)
    following = ocr_step(
        context.library, context.jobs, job_id, start, context.settings.worker_claim
    )
    if following is not None:
        task.app.send_task(OCR, args=[job_id, following])


FILE_TASKS = frozenset({SCAN, INGEST, REINDEX})


def fail_job(app: Celery, task_name: str, job_id: str, reason: str) -> None:
    """A task of this job died of reason: end the job failed. A switch is abandoned (its
    partial vectors dropped); a job of queued files gives them back; and since a dead ingest
    task may have held other jobs' files, ingest tasks go out for every job with queued files."""
    log.error("job %s failed: task %s: %s", job_id, task_name, reason)
    try:
        context = context_for(app)
        if task_name == SWITCH:
            abandon_switch(context.library, context.jobs, job_id, reason)
        elif task_name in FILE_TASKS:
            end_job(context.jobs, context.library.catalog, job_id, "failed", reason)
            send_queued(app)
        else:
            context.jobs.finish(job_id, "failed", reason)
    except Exception:  # the job store or the library is what broke: said, and left there
        log.exception("could not mark job %s failed", job_id)


def send_queued(app: Celery) -> None:
    """Ingest tasks for every job that has queued files (extra tasks find nothing and end)."""
    context = context_for(app)
    resumed = resume_queued(context.library.catalog, context.jobs, context.settings.worker_claim)
    for job_id, queued in resumed.items():
        send_ingest(app, job_id, queued)


class ResumeAfterReconnect(bootsteps.StartStopStep):
    """A consumer step of `pixseek worker`: each time the worker connects to the broker again
    after losing it, ingest tasks go out for every job with queued files, since a broker that
    restarted may have lost the tasks it held (Redis without persistence loses them all)."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.connections = 0

    def start(self, parent: Any) -> None:
        self.connections += 1
        if self.connections == 1:
            return  # the first connection: worker_ready resumes what a dead run left
        log.warning("connected to the broker again: sending the queued files' tasks again")
        try:
            send_queued(parent.app)
        except Exception:  # the broker may be gone again: the next reconnection tries again
            log.exception("could not send the queued files' tasks again")


def send_switch_step(app: Celery, job_id: str, step: Step) -> None:
    """What follows a switch step: the next step, or the retirement once queries that read
    the old model have had RETIRE_DELAY seconds to finish."""
    if step.next is not None:
        walk = step.next
        app.send_task(SWITCH, args=[job_id, walk.start, walk.number, walk.filled])
    elif step.retire:
        app.send_task(RETIRE, args=[job_id], countdown=RETIRE_DELAY)


def send_ingest(app: Celery, job_id: str, queued: Queued) -> None:
    """One ingest task per claim-sized share, so every worker can take part. A job smaller
    than a model batch waits a moment, so files arriving one by one share a batch."""
    settings = app.conf.pixseek_settings
    countdown = SMALL_JOB_WAIT if queued.files < settings.batch_size else None
    for _ in range(queued.tasks):
        app.send_task(INGEST, args=[job_id], countdown=countdown)


def resume_after_restart(app: Celery, worker: str | None) -> None:
    """Give back what a dead run of this worker had claimed and resume unfinished jobs."""
    context = context_for(app)
    recovery = plan_recovery(
        context.library, context.ingester, context.jobs, worker, context.settings.worker_claim
    )
    for job_id, queued in recovery.ingest.items():
        log.info("resuming job %s: %d queued files", job_id, queued.files)
        send_ingest(app, job_id, queued)
    for job_id, step in recovery.switch_steps:
        log.info("resuming model switch %s", job_id)
        send_switch_step(app, job_id, step)


def register(app: Celery) -> None:
    """Register the tasks on an app; the names are what callers send."""
    app.task(name=SCAN, **TASK_OPTIONS)(scan)
    app.task(name=INGEST, **TASK_OPTIONS)(ingest)
    app.task(name=REINDEX, **TASK_OPTIONS)(reindex)
    app.task(name=SWITCH, **TASK_OPTIONS)(model_switch)
    app.task(name=RETIRE, **TASK_OPTIONS)(model_retire)
    app.task(name=BACKUP, **TASK_OPTIONS)(backup)
    app.task(name=EVAL, **TASK_OPTIONS)(evaluate)
    app.task(name=OCR, **TASK_OPTIONS)(ocr)
    if app.conf.pixseek_settings.server_mode:
        app.steps["consumer"].add(ResumeAfterReconnect)


@worker_ready.connect
def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    # A `pixseek worker` (server mode) resumes its own claims; the embedded worker is resumed
    # by `pixseek serve` itself, which knows it is the only process.
    app = getattr(sender, "app", None)
    settings = app.conf.get("pixseek_settings") if app is not None else None
    if settings is not None and settings.server_mode:
        resume_after_restart(app, sender.hostname)
