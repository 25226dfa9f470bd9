"""Jobs: one admin action (index a folder, reindex, delete) with progress a user can watch.

Two stores behind one interface: SQLite in the data directory for the embedded mode, Redis for
server mode, where the CLI, the web processes and every worker read and write the same job.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from pixseek.store.catalog import MAX_FAILURES_KEPT, JobCounts

__all__ = ["FINAL_STATES", "MAX_FAILURES_KEPT", "Job", "JobCounts", "JobStore", "State", "new_job"]

State = Literal["queued", "running", "done", "failed", "cancelled"]
FINAL_STATES: frozenset[str] = frozenset({"done", "failed", "cancelled"})


@dataclass
class Job:
    """A job's state. Counters count files; failures keep (path, reason) for the first 1000."""

    id: str
    kind: str
    state: State = "queued"
    detail: dict[str, Any] = field(default_factory=dict)
    total: int = 0
    done: int = 0
    failed: int = 0
    planned: bool = False  # every file of the job has been counted into total
    cancel_requested: bool = False
    error: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def skipped(self) -> int:
        """Files passed over for their type (an index job's scan): detail's skipped_files
        lists the first of them with why (jobs/runner.py note_skipped)."""
        return int(self.detail.get("skipped", 0))

    @property
    def remaining(self) -> int:
        return max(self.total - self.done - self.failed, 0)

    def images_per_second(self, now: float | None = None) -> float:
        """Files processed per second since the job started."""
        if self.started_at is None:
            return 0.0
        elapsed = (self.finished_at or now or time.time()) - self.started_at
        return (self.done + self.failed) / elapsed if elapsed > 0 else 0.0

    def eta_seconds(self, now: float | None = None) -> float | None:
        """Seconds left at the current rate; None before the rate is known."""
        if self.finished:
            return 0.0
        rate = self.images_per_second(now)
        return self.remaining / rate if rate > 0 and self.planned else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["failures"] = [{"path": p, "reason": r} for p, r in self.failures]
        data["skipped"] = self.skipped
        data["images_per_second"] = round(self.images_per_second(), 2)
        eta = self.eta_seconds()
        data["eta_seconds"] = round(eta, 1) if eta is not None else None
        return data


def new_job(kind: str, detail: dict[str, Any] | None = None) -> Job:
    return Job(id=uuid.uuid4().hex[:12], kind=kind, detail=detail or {}, created_at=time.time())


class JobStore(Protocol):
    """Where jobs live. Every method is safe to call from several processes at once."""

    def create(self, kind: str, detail: dict[str, Any] | None = None) -> Job:
        """A new queued job."""

    def get(self, job_id: str) -> Job | None:
        """The job, or None when no job has that id."""

    def list(self, limit: int = 50) -> list[Job]:
        """The most recent jobs first."""

    def start(self, job_id: str) -> None:
        """Mark running (once; later calls keep the first start time)."""

    def add_total(self, job_id: str, count: int, planned: bool = False) -> None:
        """Count more files into the job; planned=True when no more will be added."""

    def record(self, job_id: str, done: int, failures: Sequence[tuple[str, str]] = ()) -> None:
        """Count processed files: done succeeded, failures failed with their reasons. A job
        that has ended counts nothing more (its counts were settled when it ended)."""

    def finish(
        self, job_id: str, state: State, error: str | None = None, counts: JobCounts | None = None
    ) -> bool:
        """Move an unfinished job to a final state, with counts (when given) replacing its
        counters and failures in the same step; False when it had finished already."""

    def add_detail(self, job_id: str, values: dict[str, Any]) -> None:
        """Merge these keys into the job's detail (a job that has gone is left alone)."""

    def request_cancel(self, job_id: str) -> bool:
        """Ask the workers to stop the job; False when it had finished already."""

    def failures(self, job_id: str, offset: int = 0, limit: int = 100) -> Sequence[tuple[str, str]]:
        """A page of the job's failed files (path, reason) kept, in a stable order."""
