"""Users, roles, API tokens and login sessions, in SQLite beside the catalog
(DATA_DIR/users.sqlite3).

Passwords are kept as scrypt hashes with a salt each; API tokens and session ids as SHA-256
hashes (they are long random strings, so a fast hash suffices and lookups stay one indexed
query), so a copy of the database lets nobody in. A session is a row here, not just a signed
cookie, so it can be ended: by logging out, by a change of the user's password or role, by
disabling the user, or by its expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pixseek.errors import NotFoundError, PixseekError

Role = Literal["viewer", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "admin")
TOKEN_PREFIX = "pxs_"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
# Checked against when a name is unknown, so that a wrong name costs the same scrypt work as a
# wrong password and answer times do not tell which user names exist.
_NO_SUCH_USER_HASH = "scrypt$" + "00" * 16 + "$" + "00" * 32
SESSION_LIFETIME = 30 * 24 * 3600.0  # seconds a session lives after its last use
SESSION_TOUCH = 60.0  # a session's last use is written at most this often, not at every request
MAX_USER_AGENT = 256  # characters of a session's User-Agent kept (the header has no limit)
MAX_ADDRESS = 64

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'admin')),
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    last_used_at REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    last_seen_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    user_agent TEXT NOT NULL,
    address TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_name);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
"""


class UserError(PixseekError):
    """A user or token request is invalid (unknown role, empty name, role above the maker's)."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    user: str
    role: Role
    created_at: float
    last_used_at: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "user": self.user,
            "role": self.role,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
        }


@dataclass(frozen=True)
class SessionInfo:
    """A live login session, for a page that lists and revokes them. `id` is the stored hash of
    the session's secret: it names the session but cannot act as it."""

    id: str
    user: str
    created_at: float
    last_seen_at: float
    expires_at: float
    user_agent: str
    address: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def hash_password(password: str) -> str:
    """A salted scrypt hash, stored as 'scrypt$salt$hash' in hex."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    """Whether the password hashes to the stored hash (in constant time)."""
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


def _secret_hash(secret: str) -> str:
    """How a token or session secret is stored and looked up."""
    return hashlib.sha256(secret.encode()).hexdigest()


class UserStore:
    """Users, their API tokens and login sessions. Safe to share between threads; several
    processes may open it (gunicorn's web processes do)."""

    def __init__(
        self,
        path: Path,
        session_lifetime: float = SESSION_LIFETIME,
        session_touch: float = SESSION_TOUCH,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.session_lifetime = session_lifetime
        self._session_touch = session_touch
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._migrate()
        self.sweep_sessions()

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        """Bring a users.sqlite3 made by an earlier release up to this schema: the `disabled`
        column (the sessions table is new, so CREATE TABLE IF NOT EXISTS made it)."""
        with self._transaction() as db:  # one process adds it; the others then see it
            columns = {row[1] for row in db.execute("PRAGMA table_info(users)")}
            if "disabled" not in columns:
                db.execute("ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0")

    def set_user(self, name: str, password: str, role: Role) -> User:
        """Create a user, or set an existing one's password and role.

        A change of either ends every session of the user. Setting what is already there (the
        admin password from PIXSEEK_ADMIN_PASSWORD, at every start) changes nothing, so a
        restart logs nobody out."""
        if not name.strip() or not password:
            raise UserError("a user needs a name and a password")
        _check_role(role)
        row = self._one("SELECT role, password_hash FROM users WHERE name = ?", (name,))
        if row is not None and row[0] == role and password_matches(password, row[1]):
            return User(name, role)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET role = excluded.role, "
                "password_hash = excluded.password_hash",
                (name, role, hash_password(password), time.time()),
            )
            db.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
        return User(name, role)

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable a user (refused at login, its sessions ended, its tokens refused until it is
        enabled again) or enable it; NotFoundError when there is no such user."""
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE users SET disabled = ? WHERE name = ?", (int(disabled), name)
            ).rowcount
            if not changed:
                raise NotFoundError(f"no user named {name}")
            if disabled:
                db.execute("DELETE FROM sessions WHERE user_name = ?", (name,))

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password is right and the user is not disabled, else None.

        Every call costs one scrypt, whether the name exists or not (see _NO_SUCH_USER_HASH)."""
        row = self._one("SELECT role, password_hash, disabled FROM users WHERE name = ?", (name,))
        matches = password_matches(password, row[1] if row else _NO_SUCH_USER_HASH)
        if row is None or not matches or row[2]:
            return None
        return User(name, row[0])

    def get(self, name: str) -> User | None:
        row = self._one("SELECT role FROM users WHERE name = ?", (name,))
        return User(name, row[0]) if row else None

    def create_token(self, user: User, name: str, role: Role) -> tuple[TokenInfo, str]:
        """A new API token for user, with role at most the user's; the secret is returned once."""
        _check_role(role)
        if ROLES.index(role) > ROLES.index(user.role):
            raise UserError(f"a {user.role} cannot make a token with the role {role}")
        if not name.strip():
            raise UserError("a token needs a name")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        info = TokenInfo(secrets.token_hex(8), name.strip(), user.name, role, time.time(), None)
        self._execute(
            "INSERT INTO tokens (id, name, user_name, role, token_hash, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (info.id, info.name, info.user, role, _secret_hash(secret), info.created_at),
        )
        return info, secret

    def user_for_token(self, secret: str) -> User | None:
        """Who a token speaks for, or None for an unknown token or a disabled user.

        A token keeps working until it is revoked (a password change does not end it), with the
        lower of its own role and its user's: a user made a viewer loses its admin tokens' power.
        """
        row = self._one(
            "SELECT t.id, t.user_name, t.role, u.role FROM tokens t "
            "JOIN users u ON u.name = t.user_name WHERE t.token_hash = ? AND u.disabled = 0",
            (_secret_hash(secret),),
        )
        if row is None:
            return None
        self._execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", (time.time(), row[0]))
        return User(row[1], min(row[2], row[3], key=ROLES.index))

    def tokens(self) -> list[TokenInfo]:
        rows = self._all(
            "SELECT id, name, user_name, role, created_at, last_used_at FROM tokens "
            "ORDER BY created_at DESC"
        )
        return [TokenInfo(*row) for row in rows]

    def delete_token(self, token_id: str) -> None:
        """Revoke a token; NotFoundError when there is none with that id."""
        if not self._execute("DELETE FROM tokens WHERE id = ?", (token_id,)):
            raise NotFoundError(f"no token with id {token_id}")

    def start_session(self, user: User, user_agent: str = "", address: str = "") -> str:
        """A new login session of user; returns its secret, which only the client keeps (here
        it is stored hashed). Expired sessions are swept at the same time."""
        secret = secrets.token_urlsafe(32)
        now = time.time()
        with self._transaction() as db:
            db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            db.execute(
                "INSERT INTO sessions (id_hash, user_name, created_at, last_seen_at, expires_at, "
                "user_agent, address) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_secret_hash(secret), user.name, now, now, now + self.session_lifetime,
                 user_agent[:MAX_USER_AGENT], address[:MAX_ADDRESS]),
            )  # fmt: skip
        return secret

    def user_for_session(self, secret: str) -> User | None:
        """Whose session this is, or None once it has ended (logout, expiry, a change of the
        user's password or role, a disabled user). Using a session keeps it alive for another
        session_lifetime; that is written at most every session_touch seconds."""
        now = time.time()
        row = self._one(
            "SELECT s.id_hash, s.user_name, u.role, s.last_seen_at FROM sessions s "
            "JOIN users u ON u.name = s.user_name "
            "WHERE s.id_hash = ? AND s.expires_at > ? AND u.disabled = 0",
            (_secret_hash(secret), now),
        )
        if row is None:
            return None
        if now - row[3] >= self._session_touch:
            self._execute(
                "UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id_hash = ?",
                (now, now + self.session_lifetime, row[0]),
            )
        return User(row[1], row[2])

    def end_session(self, secret: str) -> None:
        """Log a session out (nothing happens when it had already ended)."""
        self._execute("DELETE FROM sessions WHERE id_hash = ?", (_secret_hash(secret),))

    def sessions(self, user_name: str | None = None) -> list[SessionInfo]:
        """The live sessions, of one user or of all, the most recently used first."""
        where = "expires_at > ?"
        params: list[Any] = [time.time()]
        if user_name is not None:
            where += " AND user_name = ?"
            params.append(user_name)
        rows = self._all(
            "SELECT id_hash, user_name, created_at, last_seen_at, expires_at, user_agent, "
            f"address FROM sessions WHERE {where} ORDER BY last_seen_at DESC",
            tuple(params),
        )
        return [SessionInfo(*row) for row in rows]

    def revoke_session(self, session_id: str) -> None:
        """End a session by its listed id; NotFoundError when there is none."""
        if not self._execute("DELETE FROM sessions WHERE id_hash = ?", (session_id,)):
            raise NotFoundError(f"no session with id {session_id}")

    def sweep_sessions(self) -> int:
        """Delete expired sessions; how many there were."""
        return self._execute("DELETE FROM sessions WHERE expires_at <= ?", (time.time(),))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, its lock taken at once (BEGIN IMMEDIATE), so that another
        process's writes never interleave with it and its statements all happen or none."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _execute(self, sql: str, params: tuple[Any, ...]) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
