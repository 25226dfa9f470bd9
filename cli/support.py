"""What every CLI command shares: errors a user can act on become a message and an exit code."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from tqdm import tqdm

from embed import EmbedError, ImageDecodeError, ModelSpecError
from pixseek.errors import (
    NotFoundError,
    PathNotFoundError,
    PixseekError,
    QueryError,
    SettingsError,
)

F = TypeVar("F", bound=Callable[..., Any])
USAGE_ERRORS = (
    SettingsError,
    QueryError,
    NotFoundError,
    PathNotFoundError,
    ImageDecodeError,
    ModelSpecError,
)


def reports_errors(command: F) -> F:
    """Turn the errors a user can act on into one message and an exit code, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except USAGE_ERRORS as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except (PixseekError, EmbedError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except Exception as exc:
            from pixseek.index.server.client import is_transient

            if not is_transient(exc):
                raise
            click.echo(f"error: the Qdrant server did not answer: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar of images on stderr (none when stderr is not a terminal); yields
    show(done, total), which may be called with a total that grows."""
    with tqdm(total=0, unit="img", desc=description, file=sys.stderr, disable=None) as bar:

        def show(done: int, total: int) -> None:
            if bar.total != total:
                bar.reset(total=total)
            bar.n = done
            bar.refresh()

        yield show
