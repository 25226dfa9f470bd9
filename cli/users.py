"""`pixseek users`: add, list, set a password, disable or enable; the store's users, as the
admin page's Users section manages them (works while `pixseek serve` runs: the store is shared)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click

from cli.support import reports_errors
from pixseek.errors import NotFoundError, SettingsError
from pixseek.settings import Settings
from pixseek.store.schema import open_database
from pixseek.store.users import ROLES, UserStore

MIN_PASSWORD = 8


@contextmanager
def _users(settings: Settings) -> Iterator[UserStore]:
    database = open_database(settings)
    try:
        yield UserStore(database)
    finally:
        database.close()


def _password(given: str | None) -> str:
    """The --password given, else asked for twice without echo."""
    password = given or click.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise SettingsError(f"a password needs at least {MIN_PASSWORD} characters")
    return str(password)


PASSWORD_OPTION = click.option(
    "--password", help="The password (else asked for; an option is visible to other local users)."
)


@click.group("users")
def users_group() -> None:
    """Manage users: viewers (search and view) and admins (everything)."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@PASSWORD_OPTION
@click.pass_obj
@reports_errors
def add_user(settings: Settings, name: str, role: str, password: str | None) -> None:
    """Add a user."""
    with _users(settings) as store:
        if store.get(name) is not None:
            raise SettingsError(f"a user named {name} exists: use `pixseek users passwd {name}`")
        store.set_user(name, _password(password), role)  # type: ignore[arg-type]
    click.echo(f"added {name} ({role})")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
@reports_errors
def list_users(settings: Settings, as_json: bool) -> None:
    """List the users with their roles."""
    with _users(settings) as store:
        found = store.users()
    if as_json:
        click.echo(json.dumps([user.as_dict() for user in found], indent=2))
        return
    for user in found:
        click.echo(f"{user.name:<24} {user.role:<7} {'disabled' if user.disabled else ''}")


@users_group.command("passwd")
@click.argument("name")
@PASSWORD_OPTION
@click.pass_obj
@reports_errors
def set_password(settings: Settings, name: str, password: str | None) -> None:
    """Set a user's password (its login sessions end)."""
    with _users(settings) as store:
        if store.get(name) is None:
            raise NotFoundError(f"no user named {name}")
        store.set_password(name, _password(password))
    click.echo(f"set the password of {name}; its sessions have ended")


@users_group.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
@click.pass_obj
@reports_errors
def disable_user(settings: Settings, name: str, enable: bool) -> None:
    """Disable a user: refused at login, its sessions ended, its tokens refused."""
    with _users(settings) as store:
        store.set_disabled(name, not enable)
    click.echo(f"{'enabled' if enable else 'disabled'} {name}")
