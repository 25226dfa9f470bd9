"""A model switch without a search outage, as a job: begin, backfill in steps, cut over, retire.

```
request_switch → a "model-switch" job; the library's model state records the target and job
  (from now on new photos are embedded by both models)
switch_step, again and again (each one a task, so other jobs' tasks run in between):
  walk the index `claim` points at a time, giving the points without the new model's vector
  that vector (job progress); once a whole walk gave none, build the HNSW and cut over:
  searches use the new model from their next query
retire_old_model, RETIRE_DELAY seconds later (queries that read the old model finish first):
  fill what arrived meanwhile, take out photos no file could give the new vector (their files
  are marked failed), drop the old model's vectors; the job is done
```

Cancelling before the cut-over abandons the switch and drops the partial vectors; cancelling
after it changes nothing. Every step starts from what the index holds, so a step run twice or
after a crash only finds less to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from embed import EmbedError, parse_model_spec
from pixseek.errors import PixseekError
from pixseek.index.base import StoredPoint
from pixseek.jobs.job import Job, JobStore, State
from pixseek.library import Library
from pixseek.store.modelstate import check_can_begin, model_id
from pixseek.switch.backfill import backfill

log = logging.getLogger(__name__)

KIND = "model-switch"
RETIRE_DELAY = 5.0  # seconds from the cut-over to dropping the old vectors


@dataclass(frozen=True)
class Walk:
    """Where a backfill is: the next point id to look at (None: the start), which walk over
    the index this is, and how many points this walk has given the new vector so far."""

    start: str | None = None
    number: int = 1
    filled: int = 0


@dataclass(frozen=True)
class Step:
    """What follows a step: another step (next), the retirement (retire), or nothing."""

    next: Walk | None = None
    retire: bool = False


def request_switch(
    library: Library, jobs: JobStore, spec: str, configured: str | None = None
) -> Job:
    """Start switching to the model spec names; the job to send the first step for.

    Raises ModelSpecError for a spec nothing could load (weights on this machine are loaded
    into the architecture to be sure of it), ConflictError while a switch runs or when spec is
    the active model already."""
    from embed.weights import check_known, check_local_weights  # open_clip: only when asked

    spec = spec.strip()
    model = parse_model_spec(spec)
    check_known(model)
    state = library.model_state()
    check_can_begin(state, spec)
    check_local_weights(model)  # seconds for a large file: after the cheap refusals
    job = jobs.create(KIND, {"from": state.active, "to": spec})
    try:
        library.model_store.begin(spec, job.id, configured)
    except PixseekError as exc:  # another request won the race
        jobs.finish(job.id, "failed", str(exc))
        raise
    log.info("switching from %s to %s (job %s)", state.active, spec, job.id)
    return job


def switch_from_settings(library: Library, jobs: JobStore) -> Job | None:
    """A job switching to PIXSEEK_MODEL when it changed since the library last acted on it."""
    wanted, state = library.settings.model, library.model_state()
    if wanted == state.configured:
        return None
    if state.switching:
        log.warning("PIXSEEK_MODEL is now %s; a switch to it waits for job %s to end",
                    wanted, state.job_id)  # fmt: skip
        return None
    if model_id(wanted) == model_id(state.active):
        library.model_store.acknowledge(wanted)
        return None
    log.warning("PIXSEEK_MODEL changed to %s: switching from %s in the background, searches "
                "keep using the old model until the new one covers every photo",
                wanted, state.active)  # fmt: skip
    try:
        return request_switch(library, jobs, wanted, configured=wanted)
    except (PixseekError, EmbedError) as exc:
        log.error("cannot switch to PIXSEEK_MODEL=%s: %s", wanted, exc)
        return None


def run_step(library: Library, jobs: JobStore, job_id: str, walk: Walk, claim: int) -> Step:
    """One step of a switch; a model that cannot load or an index error fails the switch."""
    try:
        return switch_step(library, jobs, job_id, walk, claim)
    except (PixseekError, EmbedError) as exc:
        log.error("model switch %s failed: %s", job_id, exc)
        abandon_switch(library, jobs, job_id, str(exc))
        return Step()


def switch_step(library: Library, jobs: JobStore, job_id: str, walk: Walk, claim: int) -> Step:
    """Give up to claim points the new model's vector; cut over once a walk finds none."""
    state, job = library.model_state(), jobs.get(job_id)
    if state.job_id != job_id or state.target is None or job is None or job.finished:
        return Step()  # over, or cut over already (a step sent twice)
    if job.cancel_requested:
        abandon_switch(library, jobs, job_id)
        return Step()
    target = library.loaded_embedder(state.target)  # one that cannot load fails the switch
    library.index.ensure_vector(target.model_id, target.dim)
    _plan(library, jobs, job)
    points, following = library.index.lacking_vector(target.model_id, claim, walk.start)
    filled = backfill(library.settings, target, library.index, points)
    jobs.record(job_id, len(filled.done), filled.failed if walk.number == 1 else [])
    if following is not None:
        return Step(next=Walk(following, walk.number, walk.filled + len(filled.done)))
    if walk.filled + len(filled.done):  # again: points may have been written meanwhile
        return Step(next=Walk(None, walk.number + 1, 0))
    _cut_over(library, jobs, job_id, state.target, claim)
    return Step(retire=True)


def _plan(library: Library, jobs: JobStore, job: Job) -> None:
    jobs.start(job.id)
    if not job.planned:
        jobs.add_total(job.id, library.index.count(), planned=True)


def _cut_over(library: Library, jobs: JobStore, job_id: str, target: str, claim: int) -> None:
    _fill_the_rest(library, jobs, job_id, target, claim)  # what is left could not be read
    library.index.flush()
    library.index.optimize()  # the new vectors' HNSW, before searches use them
    if library.model_store.cut_over(job_id):
        library.index.set_active_vector(model_id(target))
        log.info("searches use %s now (job %s)", target, job_id)


def retire_old_model(
    library: Library, jobs: JobStore, job_id: str, claim: int = 256, error: str | None = None
) -> None:
    """End a switch: drop the vectors of the model it leaves behind (the old one after a
    cut-over; the target of an abandoned switch), then finish the job: done, or cancelled
    (failed, with error) when abandoned."""
    state, job = library.model_state(), jobs.get(job_id)
    if state.job_id != job_id or state.target is not None or state.retired is None:
        return
    abandoned = job is not None and _to(job) == model_id(state.retired)
    if not abandoned:
        _fill_the_rest(library, jobs, job_id, state.active, claim)
    library.index.drop_vector(model_id(state.retired))
    if not abandoned:
        library.index.set_active_vector(model_id(state.active))
    library.index.flush()
    library.model_store.retired_dropped(job_id)
    final: State = "done"
    if abandoned:
        final = "cancelled" if error is None and job and job.cancel_requested else "failed"
    jobs.finish(job_id, final, error)
    log.info("model switch %s is over (%s): %s dropped", job_id, final, state.retired)


def _to(job: Job) -> str:
    target = job.detail.get("to")
    return model_id(str(target)) if target else ""


def _fill_the_rest(library: Library, jobs: JobStore, job_id: str, spec: str, claim: int) -> None:
    """Points still without the model's vector get it (written by the old model alone after
    the backfill passed them); photos no file can give it leave the index, and their files
    count as failed."""
    model = library.loaded_embedder(spec)
    start: str | None = None
    while True:
        points, start = library.index.lacking_vector(model.model_id, claim, start)
        filled = backfill(library.settings, model, library.index, points)
        jobs.record(job_id, len(filled.done))
        _take_out([p for p in points if p.id not in set(filled.done)], dict(filled.failed), library)
        if start is None:
            return


def _take_out(points: list[StoredPoint], reasons: dict[str, str], library: Library) -> None:
    if not points:
        return
    library.index.delete([p.id for p in points])
    shas = [str(p.payload.get("sha256")) for p in points if p.payload.get("sha256")]
    for file in library.catalog.states_of_shas(shas):
        reason = reasons.get(file.path) or "the new model could not read any file of this photo"
        library.catalog.mark_failed(file, None, f"model switch: {reason}")
    log.warning("%d photos left the index: the new model could read none of their files",
                len(points))  # fmt: skip


def abandon_switch(library: Library, jobs: JobStore, job_id: str, error: str | None = None) -> None:
    """Give up a switch before its cut-over: the partial vectors are dropped, then the job
    ends, cancelled (or failed, with error)."""
    if library.model_store.abandon(job_id) is not None:
        retire_old_model(library, jobs, job_id, error=error)
    else:
        jobs.finish(job_id, "failed" if error else "cancelled", error)


def resume(library: Library, jobs: JobStore) -> tuple[str, Step] | None:
    """After a restart of the only process (the embedded mode): the switch left unfinished,
    and what to send for it; a switch whose job ended is abandoned."""
    state = library.model_state()
    if state.job_id is None:
        return None
    job = jobs.get(state.job_id)
    if state.target is not None and (job is None or job.finished):
        abandon_switch(library, jobs, state.job_id, "the switch's job ended before it did")
        return None
    if state.target is not None:
        return state.job_id, Step(next=Walk())
    return state.job_id, Step(retire=True)


def run_switch(
    library: Library, jobs: JobStore, job_id: str, claim: int, on_step: Callable[[], None]
) -> None:
    """A whole switch in this process (the CLI, with no searches running meanwhile)."""
    step = Step(next=Walk())
    while step.next is not None:
        step = run_step(library, jobs, job_id, step.next, claim)
        on_step()
    if step.retire:
        retire_old_model(library, jobs, job_id, claim)
        on_step()
