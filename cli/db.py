"""`pixseek db status|upgrade`: the store's schema version; `pixseek migrate-catalog`: an
embedded library's store into PostgreSQL."""

from __future__ import annotations

import json

import click

from cli.support import reports_errors
from pixseek.errors import ConflictError, SettingsError
from pixseek.settings import Settings
from pixseek.store.catalog import Catalog
from pixseek.store.db import Database, database_url
from pixseek.store.schema import open_database, open_url, status, upgrade
from pixseek.store.transfer import copy_tables


@click.group("db")
def db_group() -> None:
    """The store's database (PIXSEEK_DATABASE_URL, else DATA_DIR/catalog.sqlite3): its schema
    version, and upgrading it (which every command does when it opens an older one)."""


@db_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
@reports_errors
def status_command(settings: Settings, as_json: bool) -> None:
    """Say which schema the database has, and what an upgrade would apply."""
    database = Database(database_url(settings))
    try:
        found = status(database)
    finally:
        database.close()
    if as_json:
        click.echo(json.dumps({"database": database.name, **found.__dict__}, indent=2))
        return
    click.echo(f"{database.name}: {found.describe()}")


@db_group.command("upgrade")
@click.pass_obj
@reports_errors
def upgrade_command(settings: Settings) -> None:
    """Upgrade the database to this release's schema (a SQLite library is copied first, into
    PIXSEEK_BACKUP_DIR/before-schema-...)."""
    database = Database(database_url(settings))
    try:
        before = upgrade(database, settings.backups_dir)
        click.echo(f"{database.name}: was {before.describe()}; now {status(database).describe()}")
    finally:
        database.close()


@click.command("migrate-catalog")
@click.argument("database_url")
@click.option("--force", is_flag=True, help="Replace what the target database holds already.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows copied per table.")
@click.pass_obj
@reports_errors
def migrate_catalog_command(
    settings: Settings, database_url: str, force: bool, as_json: bool
) -> None:
    """Copy the embedded library's store (catalog, model state, users, tokens, sessions, jobs)
    into the database at DATABASE_URL (e.g. postgresql+psycopg://pixseek@db/pixseek), for
    running web and workers on several machines. Stop `pixseek serve` first."""
    if settings.database_url:
        raise SettingsError(
            "PIXSEEK_DATABASE_URL is set, so this library's store is on a server already; "
            "migrate-catalog reads the embedded one: run it without PIXSEEK_DATABASE_URL"
        )
    source = open_database(settings)
    target = open_url(database_url)
    try:
        _refuse_to_overwrite(target, force)
        copied = copy_tables(source, target)
    finally:
        target.close()
        source.close()
    if as_json:
        click.echo(json.dumps(copied, indent=2))
        return
    rows = ", ".join(f"{count} {table}" for table, count in copied.items())
    click.echo(f"copied {rows} to {target.name}. Now set PIXSEEK_DATABASE_URL={database_url}")


def _refuse_to_overwrite(target: Database, force: bool) -> None:
    files = sum(Catalog(target).status_counts().values())
    if files and not force:
        raise ConflictError(
            f"{target.name} holds {files} library files already; copying replaces them "
            "(add --force to do so)"
        )
