"""The `pixseek` command: index folders, search them, show statistics."""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from tqdm import tqdm

from embed import EmbedError, ImageDecodeError, ModelSpecError
from pixseek import __version__
from pixseek.errors import (
    NotFoundError,
    PathNotFoundError,
    PixseekError,
    QueryError,
    SettingsError,
)
from pixseek.index.base import SearchFilters
from pixseek.ingest import Indexer
from pixseek.library import Library
from pixseek.photos import point_id
from pixseek.search import QueryTerm, SearchRequest, SearchResult, search, text_terms
from pixseek.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])
USAGE_ERRORS = (
    SettingsError,
    QueryError,
    NotFoundError,
    PathNotFoundError,
    ImageDecodeError,
    ModelSpecError,
)
FORMAT_ALIASES = {"jpg": "jpeg", "jpe": "jpeg", "tif": "tiff", "heic": "heif"}
SHA256 = re.compile(r"^[0-9a-f]{64}$")


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

    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(__version__, prog_name="pixseek")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the index and catalog live (PIXSEEK_DATA_DIR).",
)
@click.option(
    "--model",
    help="MODEL:PRETRAINED, a weights file, local-dir:..., or pixseek-tiny (PIXSEEK_MODEL).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
@click.pass_context
@reports_errors
def main(ctx: click.Context, data_dir: Path | None, model: str | None, verbose: bool) -> None:
    """Find photos by describing them, by an example image, or by a photo you already have."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = load_settings(data_dir=data_dir, model=model)


@main.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document with the summary.")
@click.pass_obj
@reports_errors
def index_command(settings: Settings, paths: tuple[Path, ...], as_json: bool) -> None:
    """Index the images in PATHS (folders or files); only what changed is embedded again."""
    with Library(settings) as library:
        indexer = Indexer(settings, library.embedder, library.index, library.catalog)
        with tqdm(total=0, unit="img", desc="indexing", file=sys.stderr, disable=None) as bar:
            report = indexer.run([str(p) for p in paths], progress=_bar_updater(bar))
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(
        f"indexed {report.indexed} (embedded {report.embedded}, duplicates {report.duplicates}), "
        f"unchanged {report.unchanged}, removed {report.removed}, failed {len(report.failed)} "
        f"in {report.seconds:.1f} s"
    )
    for path, reason in report.failed:
        click.echo(f"  failed: {path}: {reason}")


@main.command("search")
@click.argument("text", required=False)
@click.option(
    "--image",
    "images",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Search with an image file (repeatable).",
)
@click.option(
    "--like", "likes", multiple=True, help="Photo id (or sha256) to find more like (repeatable)."
)
@click.option("--after", help="Taken on or after this date (YYYY-MM-DD or ISO datetime).")
@click.option(
    "--before", help="Taken before the end of this date (YYYY-MM-DD) or before this datetime."
)
@click.option(
    "--camera",
    "cameras",
    multiple=True,
    help="Camera make, model or 'make model' (repeatable: any).",
)
@click.option(
    "--folder",
    "folders",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Only photos in this folder or below (repeatable).",
)
@click.option(
    "--format", "formats", multiple=True, help="File type: jpeg, png, webp, heif, ... (repeatable)."
)
@click.option(
    "--shape", "shapes", multiple=True, type=click.Choice(["landscape", "portrait", "square"])
)
@click.option(
    "--has-location/--no-location", default=None, help="Only photos with (or without) GPS."
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--offset", default=0, type=click.IntRange(0))
@click.option("--min-score", type=float, help="Leave out results scoring below this.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON list.")
@click.pass_obj
@reports_errors
def search_command(
    settings: Settings,
    text: str | None,
    images: tuple[Path, ...],
    likes: tuple[str, ...],
    as_json: bool,
    limit: int,
    offset: int,
    min_score: float | None,
    **filters: Any,
) -> None:
    """Search by TEXT ("beach +sunset -people", "2:dog"), --image files and --like photos."""
    terms = text_terms(text) + [QueryTerm("image", p) for p in images]
    terms += [QueryTerm("photo", _photo_id(like)) for like in likes]
    request = SearchRequest(tuple(terms), _filters(**filters), limit, offset, min_score)
    with Library(settings) as library:
        results = search(request, library.embedder, library.index)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        _print_results(results)


@main.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
@reports_errors
def stats_command(settings: Settings, as_json: bool) -> None:
    """Show what the index holds."""
    with Library(settings) as library:
        stats = library.stats()
        failures = library.catalog.failures(limit=20)
    if as_json:
        click.echo(
            json.dumps(
                stats | {"failures": [{"path": p, "reason": r} for p, r in failures]}, indent=2
            )
        )
        return
    for key, value in stats.items():
        click.echo(f"{key:>14}: {value}")
    for path, reason in failures:
        click.echo(f"  failed: {path}: {reason}")


def _bar_updater(bar: tqdm) -> Callable[[int, int], None]:
    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.reset(total=total)
        bar.n = done
        bar.refresh()

    return update


def _filters(
    after: str | None,
    before: str | None,
    cameras: tuple[str, ...],
    folders: tuple[Path, ...],
    formats: tuple[str, ...],
    shapes: tuple[str, ...],
    has_location: bool | None,
) -> SearchFilters:
    return SearchFilters(
        taken_from=_bound(after, "--after", end_of_day=False),
        taken_until=_bound(before, "--before", end_of_day=True),
        cameras=tuple(" ".join(c.lower().split()) for c in cameras),
        folders=tuple(str(f.expanduser().resolve()) for f in folders),
        formats=tuple(
            FORMAT_ALIASES.get(f.lower().lstrip("."), f.lower().lstrip(".")) for f in formats
        ),
        shapes=shapes,  # type: ignore[arg-type]
        has_location=has_location,
    )


def _bound(value: str | None, option: str, end_of_day: bool) -> str | None:
    """A wall-clock ISO bound; a bare date as --before means up to the end of that day."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(
                day + timedelta(days=end_of_day), datetime.min.time()
            ).isoformat()
        return datetime.fromisoformat(value).replace(tzinfo=None).isoformat()
    except ValueError:
        raise QueryError(f"{option} {value!r} is not a date (YYYY-MM-DD) or ISO datetime") from None


def _photo_id(value: str) -> str:
    return point_id(value.lower()) if SHA256.match(value.lower()) else value


def _print_results(results: list[SearchResult]) -> None:
    if not results:
        click.echo("no results")
    for result in results:
        taken = (result.payload.get("taken_at") or "")[:10]
        camera = result.payload.get("camera_model") or ""
        click.echo(f"{result.score:6.3f}  {result.path}  {taken}  {camera}  [{result.id}]")
