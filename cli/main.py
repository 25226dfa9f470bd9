"""The `pixseek` command: index folders, search them, show statistics."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.backup import (
    backup_command,
    backups_command,
    migrate_index_command,
    restore_command,
)
from cli.db import db_group, migrate_catalog_command
from cli.jobs import follow, job_line, jobs_group
from cli.model import model_group, run_with_progress
from cli.ocr import ocr_command
from cli.quality import duplicates_command, eval_command
from cli.serve import serve, worker
from cli.submit import submit_index
from cli.support import progress_bar, reports_errors
from cli.users import users_group
from pixseek import __version__
from pixseek.errors import (
    DataDirLockedError,
    PixseekError,
    QueryError,
)
from pixseek.index.base import SearchFilters
from pixseek.indexing.ingest import Indexer, Ingester
from pixseek.indexing.precision import describe_precision, precision_line
from pixseek.jobs.stores import open_job_store
from pixseek.library import Library, read_held_library
from pixseek.photos.identity import point_id
from pixseek.photos.scan import resolve_roots
from pixseek.search.browse import browse
from pixseek.search.filters import build_filters
from pixseek.search.search import QueryTerm, SearchRequest, SearchResult, search, text_terms
from pixseek.settings import Settings, load_settings
from pixseek.switch.modelswitch import switch_from_settings

F = TypeVar("F", bound=Callable[..., Any])
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@click.group()
@click.version_option(__version__, prog_name="pixseek")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the index and catalog live (PIXSEEK_DATA_DIR).",
)
@click.option(
    "--model",
    help="MODEL:PRETRAINED, a weights file, local-dir:..., or pixseek-tiny (PIXSEEK_MODEL): "
    "a new library's model; on an existing one, `index` switches to it.",
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
@click.option("--detach", is_flag=True, help="Server mode: print the job id and return at once.")
@click.pass_obj
@reports_errors
def index_command(settings: Settings, paths: tuple[Path, ...], as_json: bool, detach: bool) -> None:
    """Index the images in PATHS (folders or files); only what changed is embedded again."""
    if settings.server_mode:
        _index_on_workers(settings, paths, as_json, detach)
        return
    roots = resolve_roots(str(p) for p in paths)
    with Library(settings) as library:
        library.catalog.add_roots(roots)  # the admin page's rescan looks at these again
        _switch_if_asked(library)
        indexer = Indexer(Ingester.of(library))
        with progress_bar("indexing") as show:
            report = indexer.run(roots, progress=show)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(
        f"indexed {report.indexed} (embedded {report.embedded}, duplicates {report.duplicates}), "
        f"unchanged {report.unchanged}, removed {report.removed}, failed {len(report.failed)}, "
        f"skipped {len(report.skipped)} in {report.seconds:.1f} s"
    )
    for path, reason in report.failed:
        click.echo(f"  failed: {path}: {reason}")
    _show_skipped(report.skipped)


def _show_skipped(skipped: list[tuple[str, str]], listed: int = 20) -> None:
    """Files passed over for their type: each when few, else how many for each reason."""
    if len(skipped) <= listed:
        for path, reason in skipped:
            click.echo(f"  skipped: {path}: {reason}")
        return
    for reason, count in Counter(reason for _, reason in skipped).most_common():
        click.echo(f"  skipped {count} files: {reason}")
    click.echo("  (--json lists every skipped file)")


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
@click.option("--near", metavar="LAT,LON,KM", help="Only photos within KM kilometres of a point.")
@click.option(
    "--box", metavar="LAT,LON,LAT,LON", help="Only photos inside the box between two corners."
)
@click.option(
    "--place", "places", multiple=True,
    help="City, region or country, any case: 'tokyo', 'japan' (repeatable: any).",
)  # fmt: skip
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--offset", default=0, type=click.IntRange(0))
@click.option("--min-score", type=float, help="Leave out results scoring below this.")
@click.option(
    "--oldest-first", is_flag=True, help="Without a query: the timeline from the oldest photo."
)
@click.option("--cursor", help="Without a query: the page after the one that printed this.")
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
    oldest_first: bool,
    cursor: str | None,
    **filters: Any,
) -> None:
    """Search by TEXT ("beach +sunset -people", "2:dog"), --image files and --like photos;
    with none of them, the photos passing the filters by date, newest first (a timeline)."""
    terms = text_terms(text) + [QueryTerm("image", p) for p in images]
    terms += [QueryTerm("photo", _photo_id(like)) for like in likes]
    if not terms:
        _timeline(settings, _filters(**filters), not oldest_first, limit, cursor, as_json)
        return
    request = SearchRequest(tuple(terms), _filters(**filters), limit, offset, min_score)
    with Library(settings) as library:
        results = search(request, library.embedder, library.index)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        _print_results(results)


def _timeline(
    settings: Settings,
    filters: SearchFilters,
    newest_first: bool,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    with Library(settings) as library:
        page = browse(library.index, filters, newest_first, limit, cursor)
    if as_json:
        months = [{"month": m.month, "photos": m.photos} for m in page.months]
        results = [r.as_dict() for r in page.results]
        click.echo(json.dumps({"results": results, "months": months, "next": page.next}, indent=2))
        return
    counts = {m.month: m.photos for m in page.months}
    month = None
    for result in page.results:
        taken = str(result.payload.get("taken_at"))
        if taken[:7] != month:
            month = taken[:7]
            click.echo(f"{month}  ({counts[month]} photos)")
        camera = result.payload.get("camera_model") or ""
        click.echo(f"  {taken[:16].replace('T', ' ')}  {result.path}  {camera}  [{result.id}]")
    if not page.results:
        click.echo("no photos")
    if page.next:
        click.echo(f"more: --cursor {page.next}")


@main.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
@reports_errors
def stats_command(settings: Settings, as_json: bool) -> None:
    """Show what the index holds (while `pixseek serve` runs: what its store holds)."""
    stats, failures = _library_stats(settings)
    stats["precision"] = describe_precision(settings, stats["model_id"])
    if as_json:
        click.echo(
            json.dumps(
                stats | {"failures": [{"path": p, "reason": r} for p, r in failures]}, indent=2
            )
        )
        return
    stats["precision"] = precision_line(stats["precision"])
    for key, value in stats.items():
        click.echo(f"{key:>14}: {value}")
    for path, reason in failures:
        click.echo(f"  failed: {path}: {reason}")


def _library_stats(settings: Settings) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    try:
        with Library(settings) as library:
            return library.stats(), library.catalog.failures(limit=20)
    except DataDirLockedError as exc:  # `serve` holds it: its store can still be read
        click.echo(f"note: {exc.holder} holds this library; its index is counted there", err=True)
        return read_held_library(settings)


def _switch_if_asked(library: Library) -> None:
    """A changed PIXSEEK_MODEL: switch the library to it first, so new photos are embedded
    once, by the new model."""
    jobs = open_job_store(library.settings, library.database)
    job = switch_from_settings(library, jobs)
    if job is not None:
        click.echo(f"switching to {library.settings.model} (PIXSEEK_MODEL changed)", err=True)
        run_with_progress(library, jobs, job)


def _index_on_workers(
    settings: Settings, paths: tuple[Path, ...], as_json: bool, detach: bool
) -> None:
    """Server mode: the workers index; this command sends the job and follows it."""
    roots = resolve_roots(str(p) for p in paths)
    job_id = submit_index(settings, roots)
    if detach:
        click.echo(json.dumps({"job": job_id}) if as_json else job_id)
        return
    job = follow(open_job_store(settings), job_id)
    click.echo(json.dumps(job.as_dict(), indent=2) if as_json else job_line(job))
    if job.state == "failed":
        raise PixseekError(f"job {job.id} failed: {job.error}")


def _filters(
    after: str | None,
    before: str | None,
    cameras: tuple[str, ...],
    folders: tuple[Path, ...],
    formats: tuple[str, ...],
    shapes: tuple[str, ...],
    has_location: bool | None,
    near: str | None = None,
    box: str | None = None,
    places: tuple[str, ...] = (),
) -> SearchFilters:
    try:
        return build_filters(
            after, before, cameras, folders, formats, shapes, has_location,
            _numbers(near, 3, "near"), _numbers(box, 4, "box"), places,
        )  # fmt: skip
    except QueryError as exc:
        raise QueryError(f"--{exc}") from None


def _numbers(text: str | None, count: int, name: str) -> tuple[float, ...] | None:
    """ "35.68,139.69,10" as a tuple of count floats; None when not given."""
    if text is None:
        return None
    try:
        numbers = tuple(float(part) for part in text.split(","))
    except ValueError:
        numbers = ()
    if len(numbers) != count:
        raise QueryError(f"{name} {text!r} is not {count} numbers separated by commas")
    return numbers


def _photo_id(value: str) -> str:
    return point_id(value.lower()) if SHA256.match(value.lower()) else value


def _print_results(results: list[SearchResult]) -> None:
    if not results:
        click.echo("no results")
    for result in results:
        taken = (result.payload.get("taken_at") or "")[:10]
        camera = result.payload.get("camera_model") or ""
        matched = f"  ({', '.join(result.matched)})" if result.matched else ""
        click.echo(f"{result.score:6.3f}  {result.path}  {taken}  {camera}{matched}  [{result.id}]")


main.add_command(jobs_group)
main.add_command(users_group)
main.add_command(model_group)
main.add_command(backup_command)
main.add_command(backups_command)
main.add_command(restore_command)
main.add_command(migrate_index_command)
main.add_command(db_group)
main.add_command(migrate_catalog_command)
main.add_command(serve)
main.add_command(eval_command)
main.add_command(duplicates_command)
main.add_command(ocr_command)
main.add_command(worker)
