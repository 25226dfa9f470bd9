"""A job's failed files: a page of them with their reasons, all of them as CSV, and a retry."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from pixseek.errors import NotFoundError
from pixseek.jobs.job import MAX_FAILURES_KEPT, Job
from pixseek.jobs.names import SCAN  # the web never imports the tasks
from web import answers
from web.api_search import services
from web.errors import ApiError
from web.validation import endpoint

bp = Blueprint("jobs_api", __name__, url_prefix="/api/v1")
RETRY_KIND = "index"  # a retry scans the failed files again, as a rescan would


class FailuresQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offset: int = Field(0, ge=0, le=MAX_FAILURES_KEPT)
    limit: int = Field(50, ge=1, le=MAX_FAILURES_KEPT)


class Empty(BaseModel):
    model_config = ConfigDict(extra="forbid")


@endpoint(
    bp, "/jobs/<job_id>/failures", query=FailuresQuery, response=answers.FailurePage,
    answers={404: "no job with this id"},
)  # fmt: skip
def failures(job_id: str, query: FailuresQuery) -> Response:
    """A page of the job's failed files with their reasons, ordered by path (the first 1000
    failures are kept; `total` counts them all)."""
    job = _job(job_id)
    page = services().jobs.failures(job_id, query.offset, query.limit)
    return jsonify(
        {
            "job": job_id,
            "total": job.failed,
            "kept": min(job.failed, MAX_FAILURES_KEPT),
            "offset": query.offset,
            "limit": query.limit,
            "failures": [{"path": path, "reason": reason} for path, reason in page],
        }
    )


@endpoint(
    bp, "/jobs/<job_id>/failures.csv", response=("text/csv",),
    answers={404: "no job with this id"},
)  # fmt: skip
def failures_csv(job_id: str) -> Response:
    """The job's failed files (the first 1000) as CSV: path, reason."""
    _job(job_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["path", "reason"])
    writer.writerows(services().jobs.failures(job_id, 0, MAX_FAILURES_KEPT))
    answer = Response(out.getvalue(), mimetype="text/csv")
    answer.headers["Content-Disposition"] = f'attachment; filename="job-{job_id}-failures.csv"'
    return answer


@endpoint(
    bp, "/jobs/<job_id>/retry", "POST", role="admin", body=Empty, status=202,
    response=answers.JobStarted,
    answers={
        404: "no job with this id",
        409: "the job is still running, or none of its failed files is still there",
    },
)  # fmt: skip
def retry(job_id: str, body: Empty) -> tuple[Response, int]:
    """Index the job's failed files again (the first 1000; those deleted since are left out),
    in a new job; 409 while the job runs or when no failed file is left."""
    job = _job(job_id)
    if not job.finished:
        raise ApiError(409, f"job {job_id} is still {job.state}: retry once it has ended")
    paths = _still_there(services().jobs.failures(job_id, 0, MAX_FAILURES_KEPT))
    if not paths:
        raise ApiError(409, f"job {job_id} has no failed file that is still there to retry")
    found = services()
    new = found.jobs.create(RETRY_KIND, {"paths": paths, "retry_of": job_id})
    found.send_task(SCAN, [new.id, paths])
    return jsonify({"job": new.as_dict()}), 202


def _still_there(failed: Sequence[tuple[str, str]]) -> list[str]:
    return sorted({path for path, _ in failed if Path(path).is_file()})


def _job(job_id: str) -> Job:
    found = services().jobs.get(job_id)
    if found is None:
        raise NotFoundError(f"no job with id {job_id}")
    return found
