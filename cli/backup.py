"""`pixseek backup`, `backups` and `restore`, and `migrate-index` (embedded to server)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cli.support import reports_errors
from pixseek.errors import DataDirLockedError, SettingsError
from pixseek.index import open_index
from pixseek.library import Library
from pixseek.ops.backup import back_up, list_backups, restore
from pixseek.ops.migrate import copy_index
from pixseek.settings import Settings


@click.command("backup")
@click.argument("destination", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--keep",
    type=click.IntRange(1),
    help="Keep this many of the newest backups in DESTINATION (PIXSEEK_BACKUP_KEEP).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the backup as one JSON document.")
@click.pass_obj
@reports_errors
def backup_command(
    settings: Settings, destination: Path | None, keep: int | None, as_json: bool
) -> None:
    """Back up the catalog, users, uploads and index into a new folder under DESTINATION
    (default: PIXSEEK_BACKUP_DIR, else DATA_DIR/backups)."""
    destination = destination or settings.backups_dir
    try:
        with Library(settings) as library:
            made = back_up(library, destination, keep or settings.backup_keep)
    except DataDirLockedError as exc:
        raise DataDirLockedError(
            f"{exc} While `pixseek serve` runs, back up from its admin page (Back up now) or "
            "with POST /api/v1/admin/backups."
        ) from None
    if as_json:
        click.echo(json.dumps(made.as_dict(), indent=2))
        return
    click.echo(
        f"backed up {made.photos} photos ({made.points} index points, model {made.model}, "
        f"{made.bytes / 1e6:.1f} MB) to {made.path}"
    )


@click.command("backups")
@click.argument("destination", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
@click.pass_obj
@reports_errors
def backups_command(settings: Settings, destination: Path | None, as_json: bool) -> None:
    """List the backups in DESTINATION (default: PIXSEEK_BACKUP_DIR), newest first."""
    found = list_backups(destination or settings.backups_dir)
    if as_json:
        click.echo(json.dumps([b.as_dict() for b in found], indent=2))
        return
    if not found:
        click.echo("no backups")
    for made in found:
        click.echo(
            f"{made.name}  {made.photos:>8} photos  {made.bytes / 1e6:>10.1f} MB  {made.model}"
        )


@click.command("restore")
@click.argument("backup", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a library that already holds photos.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON document.")
@click.pass_obj
@reports_errors
def restore_command(settings: Settings, backup: Path, force: bool, as_json: bool) -> None:
    """Make the library what BACKUP (a folder `pixseek backup` wrote) holds. Stop `pixseek
    serve`, or in server mode the web app and the workers, first."""
    report = restore(settings, backup, force)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(
        f"restored {report.photos} photos ({report.points} index points, model {report.model}) "
        f"from {report.source} in {report.seconds:.1f} s; a Rescan finds what changed since"
    )


@click.command("migrate-index")
@click.argument("qdrant_url")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON document.")
@click.pass_obj
@reports_errors
def migrate_index_command(settings: Settings, qdrant_url: str, as_json: bool) -> None:
    """Copy the embedded index to the Qdrant server at QDRANT_URL, for moving to server mode
    without embedding again (PIXSEEK_QDRANT_API_KEY and PIXSEEK_QDRANT_COLLECTION apply).
    Stop `pixseek serve` first; running it again copies what is missing."""
    if settings.qdrant_url:
        raise SettingsError(
            "PIXSEEK_QDRANT_URL is set, so this library's index is on a server already; "
            "migrate-index reads the embedded index: run it without PIXSEEK_QDRANT_URL"
        )
    server = settings.model_copy(update={"qdrant_url": qdrant_url})
    with Library(settings) as library:
        target = open_index(server)
        try:
            report = copy_index(library.catalog, library.model_state(), library.index, target)
        finally:
            target.close()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(
        f"copied {report.copied} photos' {report.vector} vectors to {qdrant_url} "
        f"(collection {settings.qdrant_collection} holds {report.target_points}); "
        f"{report.missing} listed photos had no vector. Now set PIXSEEK_QDRANT_URL={qdrant_url}"
    )
