"""Users, roles and API tokens, in SQLite beside the catalog (DATA_DIR/users.sqlite3).

Passwords are kept as scrypt hashes with a salt each; API tokens as SHA-256 hashes (they are
long random strings, so a fast hash suffices and lookups stay one indexed query).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pixseek.errors import NotFoundError, PixseekError

Role = Literal["viewer", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "admin")
TOKEN_PREFIX = "pxs_"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'admin')),
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL
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


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    """Users and their API tokens. Safe to share between threads; several processes may open it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def set_user(self, name: str, password: str, role: Role) -> User:
        """Create a user, or set an existing one's password and role."""
        if not name.strip() or not password:
            raise UserError("a user needs a name and a password")
        _check_role(role)
        self._execute(
            "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET role = excluded.role, "
            "password_hash = excluded.password_hash",
            (name, role, hash_password(password), time.time()),
        )
        return User(name, role)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password is right, else None."""
        row = self._one("SELECT role, password_hash FROM users WHERE name = ?", (name,))
        if row is None or not password_matches(password, row[1]):
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
            (info.id, info.name, info.user, role, _token_hash(secret), info.created_at),
        )
        return info, secret

    def user_for_token(self, secret: str) -> User | None:
        """Who a token speaks for (with the token's role), or None for an unknown token."""
        row = self._one(
            "SELECT id, user_name, role FROM tokens WHERE token_hash = ?", (_token_hash(secret),)
        )
        if row is None:
            return None
        self._execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", (time.time(), row[0]))
        return User(row[1], row[2])

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
