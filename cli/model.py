"""`pixseek model`: the model searches use, and switching to another without a search outage."""

from __future__ import annotations

import json

import click

from cli.jobs import follow, job_line
from cli.submit import submit_model_switch
from cli.support import progress_bar, reports_errors
from pixseek.errors import PixseekError
from pixseek.jobs.job import Job, JobStore
from pixseek.jobs.stores import open_job_store
from pixseek.library import Library
from pixseek.settings import Settings
from pixseek.store.modelstate import ModelState, model_id
from pixseek.switch.modelswitch import request_switch, run_switch


@click.group("model", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
@reports_errors
def model_group(ctx: click.Context, as_json: bool) -> None:
    """Show the model searches use, and a model switch in progress."""
    if ctx.invoked_subcommand is not None:
        return
    with Library(ctx.obj) as library:
        state = library.model_state()
    if as_json:
        click.echo(json.dumps(state.as_dict() | {"active_id": model_id(state.active)}, indent=2))
        return
    click.echo(describe(state))


def describe(state: ModelState) -> str:
    text = f"searches use {state.active} ({model_id(state.active)})"
    if state.target:
        text += f"; switching to {state.target} (job {state.job_id})"
    elif state.retired:
        text += f"; dropping the vectors of {state.retired} (job {state.job_id})"
    return text


@model_group.command("switch")
@click.argument("spec")
@click.option("--detach", is_flag=True, help="Server mode: print the job id and return at once.")
@click.option("--json", "as_json", is_flag=True, help="Print the job as one JSON document.")
@click.pass_obj
@reports_errors
def switch_command(settings: Settings, spec: str, detach: bool, as_json: bool) -> None:
    """Switch to the model SPEC (any PIXSEEK_MODEL form): every photo is embedded with it, then
    searches move over and the old model's vectors are dropped. The embedded mode runs it here
    (while `pixseek serve` runs, use its admin page); server mode sends it to the workers."""
    if settings.server_mode:
        job_id = submit_model_switch(settings, spec)
        if detach:
            click.echo(json.dumps({"job": job_id}) if as_json else job_id)
            return
        job = follow(open_job_store(settings), job_id)
    else:
        job = switch_here(settings, spec)
    click.echo(json.dumps(job.as_dict(), indent=2) if as_json else job_line(job))
    if job.state != "done":
        raise PixseekError(f"the switch did not happen: job {job.id} {job.state}: {job.error}")


def switch_here(settings: Settings, spec: str) -> Job:
    """The embedded mode: the whole switch in this process, with a progress bar."""
    with Library(settings) as library:
        jobs = open_job_store(settings, library.database)
        job = request_switch(library, jobs, spec)
        run_with_progress(library, jobs, job)
        found = jobs.get(job.id)
    assert found is not None
    return found


def run_with_progress(library: Library, jobs: JobStore, job: Job) -> None:
    """Run a switch to its end here, showing its job's progress."""
    claim = library.settings.worker_claim
    with progress_bar(f"switch {job.id}") as show_progress:

        def show() -> None:
            now = jobs.get(job.id)
            if now is not None:
                show_progress(now.done + now.failed, now.total)

        run_switch(library, jobs, job.id, claim, show)
