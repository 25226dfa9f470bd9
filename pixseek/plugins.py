"""Entry points that let the worker layer plug into the core CLI without the core importing
Celery: extra commands (`pixseek worker`, `pixseek serve`) and the job submitter that sends a
job to the broker in server mode."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

COMMANDS_GROUP = "pixseek.commands"
SUBMITTER_GROUP = "pixseek.submitters"


def commands() -> list[Any]:
    """Click commands other packages of this distribution provide."""
    return [entry.load() for entry in entry_points(group=COMMANDS_GROUP)]


def submitter(name: str) -> Callable[..., str]:
    """The function that sends a job of this kind to the workers; it returns the job id."""
    for entry in entry_points(group=SUBMITTER_GROUP):
        if entry.name == name:
            loaded: Callable[..., str] = entry.load()
            return loaded
    raise LookupError(f"no job submitter {name!r} is installed (is the workers package missing?)")
