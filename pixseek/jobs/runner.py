"""The work behind jobs, free of Celery: queue files for a job, process queued files, cancel,
reconcile.

Queued files live in the catalog (status 'pending', with their job id), so a worker that dies
loses nothing: its claimed files go back to the queue and another run picks them up. A job that
ends before its files are processed (cancelled, failed) gives them back their state from before
(Catalog.unqueue), so no file stays queued for a job that will not process it. Processed files
keep their job id, and a job's counters are counted from the catalog when it ends.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from more_itertools import chunked

from pixseek.indexing.ingest import Ingester, plan_scan
from pixseek.indexing.textfill import catch_up
from pixseek.jobs.job import JobStore, State
from pixseek.photos.identity import point_id
from pixseek.store.catalog import Catalog, Claimed

log = logging.getLogger(__name__)


# The kinds of job whose work is files queued in the catalog (see cancel_file_job).
FILE_JOB_KINDS = frozenset({"index", "upload", "reindex", "reconcile"})


@dataclass(frozen=True)
class Queued:
    """How many files a job queued, and how many ingest tasks should share them."""

    files: int
    tasks: int


def queue_scan(
    ingester: Ingester, jobs: JobStore, job_id: str, paths: Iterable[str], claim: int
) -> Queued:
    """Scan library folders for a job: deleted files leave the index now, new and changed ones
    are queued for ingest tasks."""
    settings, catalog = ingester.settings, ingester.catalog
    if not _wanted(jobs, catalog, job_id):
        return Queued(0, 0)
    jobs.start(job_id)
    plan = plan_scan(settings, catalog, ingester.model_id, paths)
    note_skipped(jobs, job_id, plan.skipped)
    ingester.remove(plan.gone, plan.records)
    catch_up(ingester.index)  # places and words for points of an earlier release
    catalog.enqueue(plan.todo, job_id)
    return _planned(jobs, catalog, job_id, len(plan.todo), claim)


# skipped files listed in a job's detail (which every job list carries); the count is of all
SKIPPED_KEPT = 200


def note_skipped(jobs: JobStore, job_id: str, skipped: list[tuple[str, str]]) -> None:
    """Say in the job which files its scan passed over for their type, and why (the first
    SKIPPED_KEPT of them), as `pixseek index` does."""
    if skipped:
        listed = [{"path": path, "reason": reason} for path, reason in skipped[:SKIPPED_KEPT]]
        jobs.add_detail(job_id, {"skipped": len(skipped), "skipped_files": listed})


def queue_reindex(
    catalog: Catalog, jobs: JobStore, job_id: str, model_id: str, claim: int, everything: bool
) -> Queued:
    """Queue files again: every known file, or only those without a point for this model."""
    if not _wanted(jobs, catalog, job_id):
        return Queued(0, 0)
    jobs.start(job_id)
    states = catalog.states_to_reindex(model_id, everything=everything)
    catalog.enqueue(states, job_id)
    return _planned(jobs, catalog, job_id, len(states), claim)


def ingest_queued(
    ingester: Ingester,
    jobs: JobStore,
    job_id: str,
    worker: str,
    claim: int,
    send_more: Callable[[str, Queued], None] | None = None,
) -> int:
    """Process a job's queued files until none is left or the job is cancelled; how many files
    this call processed. Several workers may run this for one job at once.

    A claim too small for a model batch is topped up with other jobs' queued files, so files
    that arrive one at a time (one job each) still reach the model in full batches. A cancel
    is seen between files and before each model batch: what is not processed by then goes
    back to where it was, and other jobs' files it held go back to their queue, for which
    send_more is asked to send an ingest task (their own tasks may have ended meanwhile)."""
    processed = 0
    catalog = ingester.catalog
    stopped = CancelCheck(jobs, job_id)
    involved = {job_id}
    jobs.start(job_id)
    try:
        while not stopped(fresh=True) and (
            claimed := _claim(catalog, worker, job_id, claim, ingester.settings.batch_size)
        ):
            job_of = {c.record.path: c.job_id or job_id for c in claimed}
            for other in set(job_of.values()) - involved:
                jobs.start(other)
                involved.add(other)
            report = ingester.ingest(
                [c.record.state for c in claimed],
                {c.record.path: c.record for c in claimed},
                on_batch=_progress_recorder(jobs, catalog, worker, job_of),
                should_stop=stopped,
            )
            processed += report.indexed + report.unchanged + len(report.failed)
    finally:
        catalog.release_claims(worker)  # unprocessed: back to the queue (or, cancelled, unqueued)
        ingester.index.flush()
    ended = [j for j in sorted(involved) if _finish(jobs, catalog, j)]
    if send_more is not None and stopped():  # cut short: other jobs' files were left
        for other in sorted(involved - {job_id} - set(ended)):
            if left := catalog.pending_count(other):
                send_more(other, Queued(left, math.ceil(left / claim)))
    if ended and processed:
        ingester.index.optimize()  # build the HNSW for what the jobs wrote
    return processed


def _claim(catalog: Catalog, worker: str, job_id: str, claim: int, batch: int) -> list[Claimed]:
    claimed = catalog.claim(claim, worker, job_id)
    if claimed and len(claimed) < batch:
        claimed += catalog.claim(batch - len(claimed), worker)
    return claimed


def _progress_recorder(
    jobs: JobStore, catalog: Catalog, worker: str, job_of: dict[str, str]
) -> Callable[[list[str], list[tuple[str, str]]], None]:
    """Counts each processed file into the job it was queued for, and renews the worker's
    lease on the files it still holds: it is alive and working on them."""

    def record(done: list[str], failures: list[tuple[str, str]]) -> None:
        catalog.renew_claims(worker)
        counts: Counter[str] = Counter(job_of[path] for path in done)
        failed: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for path, reason in failures:
            failed[job_of[path]].append((path, reason))
        for job in set(counts) | set(failed):
            jobs.record(job, counts[job], failed[job])

    return record


class CancelCheck:
    """Whether a job should stop (cancelled, ended or gone), asking the store at most every
    `every` seconds between files (a store round trip per file would add up), and always when
    fresh (before a claim or a model batch)."""

    def __init__(self, jobs: JobStore, job_id: str, every: float = 0.5) -> None:
        self.jobs, self.job_id, self.every = jobs, job_id, every
        self._asked_at = -math.inf
        self._stop = False

    def __call__(self, fresh: bool = False) -> bool:
        now = time.monotonic()
        if fresh or now - self._asked_at >= self.every:
            job = self.jobs.get(self.job_id)
            self._stop = job is None or job.cancel_requested or job.finished
            self._asked_at = now
        return self._stop


def _finish(jobs: JobStore, catalog: Catalog, job_id: str) -> bool:
    """End a job that was cancelled or has no queued file left; True when this call ended it.
    A job that has ended gives back the queued files no worker holds.

    The catalog decides, not the counters: a worker killed between writing a file and
    counting it must not leave its job running for ever."""
    job = jobs.get(job_id)
    if job is None:
        return False  # the store lost it: reconcile() gives its files a job of their own
    if job.finished:
        catalog.unqueue(job_id)  # files queued after it ended (a scan running meanwhile)
        return False
    if job.cancel_requested:
        return end_job(jobs, catalog, job_id, "cancelled")
    if job.planned and catalog.pending_count(job_id) == 0:
        return end_job(jobs, catalog, job_id, "done")
    return False


def _wanted(jobs: JobStore, catalog: Catalog, job_id: str) -> bool:
    """Whether a job's work should still be done (it has not ended or been cancelled)."""
    job = jobs.get(job_id)
    if job is not None and (job.finished or job.cancel_requested):
        _finish(jobs, catalog, job_id)
        return False
    return True


def end_job(
    jobs: JobStore, catalog: Catalog, job_id: str, state: State, error: str | None = None
) -> bool:
    """End a job whose work is queued files: those no worker holds go back to their state
    from before it queued them, and its counters are counted from the catalog. True when this
    call ended it."""
    catalog.unqueue(job_id)
    return jobs.finish(job_id, state, error, catalog.job_counts(job_id))


def cancel_file_job(jobs: JobStore, catalog: Catalog, job_id: str) -> bool:
    """Cancel a job whose work is queued files; False when it had ended already.

    Workers see the flag between files and before each model batch. A job no worker holds a
    file of (its tasks were lost, or crashed, or have not started) ends here and now, so a
    cancel always ends a job; a worker holding files ends it once it has let them go."""
    if not jobs.request_cancel(job_id):
        return False
    if catalog.claimed_count(job_id) == 0:
        end_job(jobs, catalog, job_id, "cancelled")
    return True


def _planned(jobs: JobStore, catalog: Catalog, job_id: str, count: int, claim: int) -> Queued:
    jobs.add_total(job_id, count, planned=True)
    _finish(jobs, catalog, job_id)  # nothing to do is done at once
    return Queued(count, math.ceil(count / claim))


def reconcile(
    ingester: Ingester, jobs: JobStore, worker: str | None, claim: int
) -> dict[str, Queued]:
    """After a restart: give back claims of the dead process (worker; None: everyone's), queue
    files whose point went missing, and say which jobs have queued files to process."""
    catalog = ingester.catalog
    catalog.release_claims(worker)
    _queue_missing_points(ingester, jobs)
    return resume_queued(catalog, jobs, claim)


def resume_queued(catalog: Catalog, jobs: JobStore, claim: int) -> dict[str, Queued]:
    """The jobs with queued files, to send ingest tasks for: after a restart, or after the
    broker came back (it may have lost the tasks it held). Files of a job the store has lost,
    or of one that ended, get a "reconcile" job of their own. Claims are left alone: a task
    that is still running keeps its files."""
    resumed: dict[str, Queued] = {}
    for job_id, count in catalog.pending_jobs().items():
        job = jobs.get(job_id) if job_id else None
        if job is None or job.finished:
            job = jobs.create("reconcile", {"reason": "files left queued by an earlier run"})
            moved = catalog.move_pending(job_id, job.id)
            jobs.add_total(job.id, moved, planned=True)
        resumed[job.id] = Queued(count, math.ceil(count / claim))
    return resumed


def _queue_missing_points(ingester: Ingester, jobs: JobStore) -> None:
    catalog, index = ingester.catalog, ingester.index
    shas = catalog.shas_indexed_with(ingester.model_id)
    if index.count() >= len(shas):
        return  # the common case costs one count
    present = {
        p.id
        for chunk in chunked(sorted(shas), 1000)
        for p in index.retrieve([point_id(s) for s in chunk])
    }
    missing = [s for s in shas if point_id(s) not in present]
    states = catalog.states_of_shas(missing)
    if states:
        log.warning("%d indexed files have no point in the index; queueing them again", len(states))
        job = jobs.create("reconcile", {"reason": "files missing from the index"})
        catalog.enqueue(states, job.id)
        jobs.add_total(job.id, len(states), planned=True)
