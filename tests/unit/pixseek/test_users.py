"""The user store's sessions, their ends (logout, password or role change, disabled user,
expiry), tokens of changed users, and a users.sqlite3 made by the previous release."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from pixseek.errors import NotFoundError
from pixseek.store.db import Database
from pixseek.store.schema import open_url
from pixseek.store.users import MAX_USER_AGENT, User, UserStore, hash_password

# users.sqlite3 as the release before sessions and `disabled` made it
PREVIOUS_SCHEMA = """
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'admin')),
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    last_used_at REAL
);
"""
# catalog.sqlite3 as the release before schema versions made it (its files table only)
PREVIOUS_CATALOG = """
CREATE TABLE files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT,
    status TEXT NOT NULL CHECK (status IN ('indexed', 'failed', 'pending', 'excluded')),
    model_id TEXT, error TEXT, updated_at TEXT NOT NULL, job_id TEXT, claimed_by TEXT,
    claimed_at REAL
);
"""


@pytest.fixture
def store(database: Database) -> UserStore:
    users = UserStore(database)
    users.set_user("ada", "ada's password", "admin")
    users.set_user("vic", "vic's password", "viewer")
    return users


def test_a_session_lives_until_it_is_logged_out(store: UserStore) -> None:
    ada = User("ada", "admin")
    secret = store.start_session(ada, user_agent="Firefox", address="192.0.2.7")
    assert store.user_for_session(secret) == ada
    assert store.user_for_session(secret + "x") is None
    store.end_session(secret)
    assert store.user_for_session(secret) is None
    store.end_session(secret)  # twice: nothing to end, no error


def test_setting_the_same_password_again_keeps_the_sessions(store: UserStore) -> None:
    secret = store.start_session(User("ada", "admin"))
    store.set_user("ada", "ada's password", "admin")  # what every start does with the admin
    assert store.user_for_session(secret) == User("ada", "admin")


@pytest.mark.parametrize(
    ("password", "role"), [("a new password", "admin"), ("ada's password", "viewer")]
)
def test_a_password_or_role_change_ends_that_users_sessions_only(
    store: UserStore, password: str, role: str
) -> None:
    ada_session = store.start_session(User("ada", "admin"))
    vic_session = store.start_session(User("vic", "viewer"))
    store.set_user("ada", password, role)  # type: ignore[arg-type]
    assert store.user_for_session(ada_session) is None
    assert store.user_for_session(vic_session) == User("vic", "viewer")
    assert store.authenticate("ada", password) == User("ada", role)  # type: ignore[arg-type]


def test_a_password_change_leaves_tokens_working(store: UserStore) -> None:
    _, token = store.create_token(User("ada", "admin"), "script", "admin")
    store.set_user("ada", "a new password", "admin")
    assert store.user_for_token(token) == User("ada", "admin")


def test_a_demoted_users_admin_token_acts_as_a_viewer(store: UserStore) -> None:
    _, token = store.create_token(User("ada", "admin"), "script", "admin")
    store.set_user("ada", "ada's password", "viewer")
    assert store.user_for_token(token) == User("ada", "viewer")


def test_a_disabled_user_is_refused_everywhere_until_enabled(store: UserStore) -> None:
    session = store.start_session(User("vic", "viewer"))
    _, token = store.create_token(User("vic", "viewer"), "script", "viewer")
    store.set_disabled("vic", True)
    assert store.user_for_session(session) is None
    assert store.user_for_token(token) is None
    assert store.authenticate("vic", "vic's password") is None
    assert store.sessions("vic") == []

    store.set_disabled("vic", False)
    assert store.user_for_session(session) is None, "ended sessions do not come back"
    assert store.user_for_token(token) == User("vic", "viewer"), "tokens last until revoked"
    assert store.authenticate("vic", "vic's password") == User("vic", "viewer")
    with pytest.raises(NotFoundError):
        store.set_disabled("nobody", True)


def test_sessions_are_listed_with_agent_and_address_and_revoked_by_id(store: UserStore) -> None:
    agent = "Mozilla/5.0 " + "x" * 1000
    secret = store.start_session(User("ada", "admin"), user_agent=agent, address="2001:db8::1")
    store.start_session(User("vic", "viewer"))
    [listed] = store.sessions("ada")
    assert (listed.user, listed.address) == ("ada", "2001:db8::1")
    assert listed.user_agent == agent[:MAX_USER_AGENT]
    assert listed.created_at <= listed.last_seen_at < listed.expires_at
    assert secret not in listed.id, "the listed id cannot be used as the session"
    assert {s.user for s in store.sessions()} == {"ada", "vic"}

    store.revoke_session(listed.id)
    assert store.user_for_session(secret) is None
    with pytest.raises(NotFoundError):
        store.revoke_session(listed.id)


def test_using_a_session_extends_it_but_writes_at_most_every_touch(database: Database) -> None:
    store = UserStore(database, session_lifetime=100, session_touch=0.3)
    store.set_user("ada", "ada's password", "admin")
    secret = store.start_session(User("ada", "admin"))
    [started] = store.sessions()
    assert store.user_for_session(secret) is not None
    assert store.sessions() == [started], "used again within the touch interval: no write"
    time.sleep(0.35)
    assert store.user_for_session(secret) is not None
    [touched] = store.sessions()
    assert touched.last_seen_at > started.last_seen_at
    assert touched.expires_at == pytest.approx(touched.last_seen_at + 100)


def test_expired_sessions_end_and_are_swept(database: Database) -> None:
    store = UserStore(database, session_lifetime=0.2)
    store.set_user("ada", "ada's password", "admin")
    secret = store.start_session(User("ada", "admin"))
    time.sleep(0.25)
    assert store.user_for_session(secret) is None
    assert store.sessions() == []
    UserStore(database)  # opening the store sweeps
    assert database.rows("SELECT count(*) FROM sessions") == [(0,)]


def test_a_users_file_of_the_previous_release_joins_the_store(tmp_path: Path) -> None:
    """users.sqlite3 as the release before sessions and `disabled` made it, beside a catalog:
    opening the store upgrades it and takes the users in."""
    data = tmp_path / "data"
    data.mkdir()
    with closing(sqlite3.connect(data / "users.sqlite3")) as db, db:
        db.executescript(PREVIOUS_SCHEMA)
        db.execute(
            "INSERT INTO users VALUES ('ada', 'admin', ?, ?)",
            (hash_password("ada's password"), time.time()),
        )
    with closing(sqlite3.connect(data / "catalog.sqlite3")) as db, db:
        db.executescript(PREVIOUS_CATALOG)
    database = open_url(f"sqlite:///{data / 'catalog.sqlite3'}")
    first, second = UserStore(database), UserStore(database)
    ada = first.authenticate("ada", "ada's password")
    assert ada == User("ada", "admin")
    session = first.start_session(ada)
    _, token = first.create_token(ada, "script", "viewer")
    second.set_disabled("ada", True)
    assert first.user_for_session(session) is None
    assert first.user_for_token(token) is None
    database.close()
    assert not (data / "users.sqlite3").exists() and (data / "users.sqlite3.merged").exists()
