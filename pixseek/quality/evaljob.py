"""An eval as a job: asked for by the API (the admin page's Quality panel), run by a worker (the
in-process one of `pixseek serve`, or any `pixseek worker`), its report kept in the data
directory, which every process of a library shares:

- `DATA_DIR/eval/last.json`: the report, as `pixseek eval --json` prints it;
- `DATA_DIR/eval/last.png`: its Recall@K curves, as `pixseek eval --plot` draws them;
- `DATA_DIR/eval/job.json`: the newest eval job's id, `step.txt`: what it is doing now.

A run replaces the report only once it has ended well: the one before stays readable meanwhile.
The job counts configurations (total: those planned; done: those measured), and a cancel is
seen between steps.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from embed.errors import EmbedError
from pixseek.errors import ConflictError, PixseekError
from pixseek.jobs.job import Job, JobStore
from pixseek.jobs.runner import CancelCheck
from pixseek.library import Library
from pixseek.quality.evaluate import QUANTIZATIONS, SEARCHING, Plan, Report
from pixseek.quality.report import plot
from pixseek.quality.run import EvalRequest, evaluate, planned_configurations
from pixseek.quality.transforms import TRANSFORMS
from pixseek.settings import Settings

KIND = "eval"  # the job's kind
REPORT = "last.json"
PLOT = "last.png"
LATEST_JOB = "job.json"
STEP = "step.txt"


class EvalCancelled(PixseekError):
    """The eval's job was cancelled: the run stops at its next step."""


def eval_dir(settings: Settings) -> Path:
    return settings.data_dir / "eval"


def eval_request(options: Mapping[str, Any], settings: Settings) -> EvalRequest:
    """A copy-set eval from a job's options (copies, distractors, seed, transforms, ef,
    quantizations, precisions, rerank: each optional but copies), into DATA_DIR/eval."""
    plan = Plan(
        efs=tuple(options.get("ef", Plan.efs)),
        quantizations=tuple(options.get("quantizations", QUANTIZATIONS)),
        precisions=tuple(options.get("precisions", Plan.precisions)),
        rerank=bool(options.get("rerank", True)),
        ef=settings.hnsw_ef, m=settings.hnsw_m, ef_construct=settings.hnsw_ef_construct,
    )  # fmt: skip
    return EvalRequest(
        copies=int(options["copies"]), seed=int(options.get("seed", 0)),
        transforms=tuple(options.get("transforms", TRANSFORMS)),
        distractors=int(options.get("distractors", 0)), plan=plan,
    )  # fmt: skip


def start_eval(library: Library, jobs: JobStore, options: Mapping[str, Any]) -> Job:
    """A new eval job for a worker to run; ConflictError while another eval has not ended or
    a model switch runs (its new model's vectors are not all there yet)."""
    running = latest_eval_job(library.settings, jobs)
    if running is not None and not running.finished:
        raise ConflictError(f"an eval is running already (job {running.id}): wait or cancel it")
    library.model_state().refuse_while_switching("run an eval")
    job = jobs.create(KIND, dict(options))
    folder = eval_dir(library.settings)
    _write(folder / LATEST_JOB, json.dumps({"id": job.id}).encode())
    _write(folder / STEP, b"waiting for a worker")
    return job


def latest_eval_job(settings: Settings, jobs: JobStore) -> Job | None:
    """The newest eval job asked for, or None (none yet, or the job store forgot it)."""
    try:
        found = json.loads((eval_dir(settings) / LATEST_JOB).read_text())
    except (OSError, ValueError):
        return None
    return jobs.get(str(found.get("id"))) if isinstance(found, dict) else None


def run_eval_job(library: Library, jobs: JobStore, job_id: str) -> Report | None:
    """Run an eval job and keep its report; a job that has ended (or is gone) is left alone,
    so a task delivered twice runs it once."""
    job = jobs.get(job_id)
    if job is None or job.finished:
        return None
    if job.cancel_requested:
        jobs.finish(job_id, "cancelled")
        return None
    folder = eval_dir(library.settings)
    try:
        request = eval_request(job.detail, library.settings)
        jobs.start(job_id)
        jobs.add_total(job_id, len(planned_configurations(library, request)), planned=True)
        progress = JobProgress(jobs, job_id, folder)
        report = evaluate(library, request, progress)
        progress.finished()
        keep_report(report, folder)
    except EvalCancelled:
        jobs.finish(job_id, "cancelled")
        return None
    except (PixseekError, EmbedError, OSError) as exc:
        jobs.finish(job_id, "failed", f"the eval failed: {exc}")
        return None
    jobs.finish(job_id, "done")
    return report


class JobProgress:
    """The eval's progress messages into its job: each configuration measured counts one, the
    message is the job's current step, and a cancelled job stops the run (EvalCancelled)."""

    def __init__(self, jobs: JobStore, job_id: str, folder: Path) -> None:
        self.jobs, self.job_id, self.folder = jobs, job_id, folder
        self.stopped = CancelCheck(jobs, job_id)
        self.begun = 0

    def __call__(self, message: str) -> None:
        if self.stopped(fresh=True):
            raise EvalCancelled(f"eval job {self.job_id} was cancelled")
        if message.startswith(SEARCHING):
            self.finished()
            self.begun += 1
        _write(self.folder / STEP, message.encode())

    def finished(self) -> None:
        """The configuration begun last has been measured."""
        if self.begun:
            self.jobs.record(self.job_id, 1)


def keep_report(report: Report, folder: Path) -> None:
    """The report and its curves replace the last ones (the curves first: whoever reads the
    report finds its curves)."""
    folder.mkdir(parents=True, exist_ok=True)
    drawn = folder / f".partial-{PLOT}"  # savefig reads the format from the suffix
    plot(report, drawn)
    os.replace(drawn, folder / PLOT)
    _write(folder / REPORT, json.dumps(report.as_dict(), indent=1).encode())


def last_report(settings: Settings) -> tuple[dict[str, Any], float] | None:
    """The last report kept, with when it was kept (seconds since the epoch); None before
    the first eval has ended well."""
    path = eval_dir(settings) / REPORT
    try:
        return json.loads(path.read_bytes()), path.stat().st_mtime
    except FileNotFoundError:
        return None


def last_plot(settings: Settings) -> Path | None:
    path = eval_dir(settings) / PLOT
    return path if path.is_file() else None


def current_step(settings: Settings) -> str | None:
    try:
        return (eval_dir(settings) / STEP).read_text()
    except OSError:
        return None


def abandon_eval_jobs(jobs: JobStore) -> list[str]:
    """After a restart of the only process (the embedded mode): evals it was running or had
    queued will not end; say so, so that a new one can start."""
    abandoned = [j.id for j in jobs.list() if j.kind == KIND and not j.finished]
    for job_id in abandoned:
        jobs.finish(job_id, "failed", "pixseek stopped before the eval ended")
    return abandoned


def _write(path: Path, data: bytes) -> None:
    """Replace a file whole: a reader sees the old content or the new, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
