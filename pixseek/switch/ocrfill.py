"""OCR of photos indexed before PIXSEEK_OCR=on, as a job, like a model switch's backfill.

```
start_ocr → an "ocr" job (one at a time)
ocr_step, again and again (each one a task, so other jobs' tasks run in between):
  walk the index `claim` points at a time; each point without `ocr_text` is decoded from one
  of its files whose content still matches it, read, and given `ocr_text` (set_payload: its
  vectors and other fields are left alone); the walk's end ends the job
```

Every step starts from what the index holds, so a step run twice, after a crash or in a later
job only finds less to do; a photo none of whose files can be read keeps no `ocr_text` and is
counted as failed (a later job tries it again). A cancel is seen between photos.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pixseek.errors import ConflictError
from pixseek.index.base import StoredPoint
from pixseek.jobs.job import Job, JobStore
from pixseek.jobs.runner import CancelCheck
from pixseek.library import Library
from pixseek.photos.ocr import OCR_SIDE, OcrFailed, check_engine, read_text
from pixseek.photos.pipeline import bounded_map
from pixseek.photos.thumbnails import decode_side_for
from pixseek.switch.backfill import decode_first_file, first_label

log = logging.getLogger(__name__)

KIND = "ocr"  # the job's kind
FIELD = "ocr_text"


@dataclass(frozen=True)
class Read:
    """One photo's outcome: its text, or (text None) why no file of it could be read."""

    point_id: str
    text: str | None
    label: str = ""  # what a failure names: the photo's first path, else its id
    reason: str = ""


def start_ocr(library: Library, jobs: JobStore) -> Job:
    """A new OCR job for a worker (or this process) to run; ConflictError while another has
    not ended, OcrUnavailable without the engine."""
    check_engine()
    running = unfinished_ocr_jobs(jobs)
    if running:
        raise ConflictError(f"an OCR job is running already (job {running[0]}): wait or cancel it")
    return jobs.create(KIND, {"points": library.index.count()})


def unfinished_ocr_jobs(jobs: JobStore) -> list[str]:
    return [job.id for job in jobs.list(200) if job.kind == KIND and not job.finished]


def abandon_ocr_jobs(jobs: JobStore) -> list[str]:
    """After a restart of the only process (the embedded mode): its OCR job will not end; say
    so, so that a new one can start (and go on with the photos still without text)."""
    abandoned = unfinished_ocr_jobs(jobs)
    for job_id in abandoned:
        jobs.finish(job_id, "failed", "pixseek stopped before the OCR job ended: start it again")
    return abandoned


def ocr_step(
    library: Library, jobs: JobStore, job_id: str, start: str | None, claim: int
) -> str | None:
    """Read the text of up to claim points from start on; where the next step starts, None
    once the job has ended (the walk is over, or it was cancelled)."""
    job = jobs.get(job_id)
    if job is None or job.finished:
        return None
    stop = CancelCheck(jobs, job_id)
    if stop(fresh=True):
        jobs.finish(job_id, "cancelled")
        return None
    jobs.start(job_id)
    if not job.planned:
        jobs.add_total(job_id, library.index.count(), planned=True)
    points, following = library.index.scroll(None, claim, start)
    had_text = sum(1 for p in points if FIELD in p.payload)
    jobs.record(job_id, had_text)  # read already: done
    lacking = [p for p in points if FIELD not in p.payload]
    if not _read_points(library, jobs, job_id, lacking, stop):
        jobs.finish(job_id, "cancelled")
        return None
    if following is None:
        library.index.flush()
        jobs.finish(job_id, "done")
        return None
    return following


def _read_points(
    library: Library, jobs: JobStore, job_id: str, points: list[StoredPoint], stop: CancelCheck
) -> bool:
    """Give these points their text; False when a cancel stopped it before the last."""
    settings = library.settings
    with ThreadPoolExecutor(settings.decode_threads, "pixseek-ocr") as pool:
        reader = _Reader(settings.max_image_pixels)
        for item in bounded_map(pool, reader, points, 2 * settings.decode_threads):
            if item.text is None:
                jobs.record(job_id, 0, [(item.label, item.reason)])
            else:
                library.index.set_payload(item.point_id, {FIELD: item.text})
                jobs.record(job_id, 1)
            if stop():
                pool.shutdown(wait=True, cancel_futures=True)
                return False
    return True


class _Reader:
    """Runs in a decode thread: the text of the first file of a point that still holds its
    content."""

    def __init__(self, max_pixels: int) -> None:
        self.max_pixels = max_pixels

    def __call__(self, point: StoredPoint) -> Read:
        rgb, reason = decode_first_file(point, self.max_pixels, _ocr_side)
        if rgb is not None:
            try:
                return Read(point.id, read_text(rgb))
            except OcrFailed as exc:  # no ocr_text stored: the next OCR job tries again
                reason = str(exc)
            except Exception as exc:  # a bad file must never stop the job; keep the reason
                log.exception("unexpected error reading the text of %s", first_label(point))
                reason = f"unexpected error: {type(exc).__name__}: {exc}"
        return Read(point.id, None, first_label(point), f"OCR: {reason}")


def _ocr_side(width: int, height: int) -> int:
    return decode_side_for(width, height, 1, OCR_SIDE)


def run_ocr(
    library: Library, jobs: JobStore, job_id: str, claim: int, on_step: Callable[[], None]
) -> None:
    """A whole OCR job in this process (the CLI)."""
    start: str | None = None
    while True:
        start = ocr_step(library, jobs, job_id, start, claim)
        on_step()
        if start is None:
            return
