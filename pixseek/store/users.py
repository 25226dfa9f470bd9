"""Users, roles, API tokens and login sessions, in the store's database (tables users, tokens,
sessions: pixseek/store/migrations).

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
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sqlalchemy import text

from pixseek.errors import NotFoundError, PixseekError
from pixseek.store.db import Database, changed

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


class UserError(PixseekError):
    """A user or token request is invalid (unknown role, empty name, role above the maker's)."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    # The name of the API token the request came with (None for a login session): the token of
    # `name`, acting with `role`, which may be below the user's own.
    token: str | None = field(default=None, compare=False)

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


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: Role
    disabled: bool
    created_at: float

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
    """Users, their API tokens and login sessions, in the store's database. Safe to share
    between threads; several processes may use it (gunicorn's web processes do)."""

    def __init__(
        self,
        database: Database,
        session_lifetime: float = SESSION_LIFETIME,
        session_touch: float = SESSION_TOUCH,
    ) -> None:
        self.database = database
        self.session_lifetime = session_lifetime
        self._session_touch = session_touch
        self.sweep_sessions()

    def close(self) -> None:
        """Nothing to close: the database belongs to whoever opened it."""

    def set_user(self, name: str, password: str, role: Role) -> User:
        """Create a user, or set an existing one's password and role.

        A change of either ends every session of the user. Setting what is already there (the
        admin password from PIXSEEK_ADMIN_PASSWORD, at every start) changes nothing, so a
        restart logs nobody out."""
        if not name.strip() or not password:
            raise UserError("a user needs a name and a password")
        _check_role(role)
        row = self._one("SELECT role, password_hash FROM users WHERE name = :name", name=name)
        if row is not None and row[0] == role and password_matches(password, row[1]):
            return User(name, role)
        with self.database.write() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (name, role, password_hash, created_at) "
                    "VALUES (:name, :role, :hash, :now) ON CONFLICT (name) DO UPDATE SET "
                    "role = excluded.role, password_hash = excluded.password_hash"
                ),
                {"name": name, "role": role, "hash": hash_password(password), "now": time.time()},
            )
            connection.execute(_END_SESSIONS_OF, {"name": name})
        return User(name, role)

    def users(self) -> list[UserInfo]:
        """Every user, by name."""
        rows = self.database.rows(
            "SELECT name, role, disabled, created_at FROM users ORDER BY name"
        )
        return [UserInfo(name, role, bool(off), created) for name, role, off, created in rows]

    def set_password(self, name: str, password: str) -> User:
        """A new password for an existing user (its sessions end); NotFoundError when none."""
        user = self.get(name)
        if user is None:
            raise NotFoundError(f"no user named {name}")
        return self.set_user(name, password, user.role)

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable a user (refused at login, its sessions ended, its tokens refused until it is
        enabled again) or enable it; NotFoundError when there is no such user."""
        with self.database.write() as connection:
            found = connection.execute(
                text("UPDATE users SET disabled = :disabled WHERE name = :name"),
                {"disabled": int(disabled), "name": name},
            )
            if not changed(found):
                raise NotFoundError(f"no user named {name}")
            if disabled:
                connection.execute(_END_SESSIONS_OF, {"name": name})

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password is right and the user is not disabled, else None.

        Every call costs one scrypt, whether the name exists or not (see _NO_SUCH_USER_HASH)."""
        row = self._one(
            "SELECT role, password_hash, disabled FROM users WHERE name = :name", name=name
        )
        matches = password_matches(password, row[1] if row else _NO_SUCH_USER_HASH)
        if row is None or not matches or row[2]:
            return None
        return User(name, row[0])

    def get(self, name: str) -> User | None:
        row = self._one("SELECT role FROM users WHERE name = :name", name=name)
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
        self.database.execute(
            "INSERT INTO tokens (id, name, user_name, role, token_hash, created_at) "
            "VALUES (:id, :name, :user, :role, :hash, :created)",
            {"id": info.id, "name": info.name, "user": info.user, "role": role,
             "hash": _secret_hash(secret), "created": info.created_at},
        )  # fmt: skip
        return info, secret

    def user_for_token(self, secret: str) -> User | None:
        """Who a token speaks for, or None for an unknown token or a disabled user.

        A token keeps working until it is revoked (a password change does not end it), with the
        lower of its own role and its user's: a user made a viewer loses its admin tokens' power.
        """
        row = self._one(
            "SELECT t.id, t.user_name, t.role, u.role, t.name FROM tokens t "
            "JOIN users u ON u.name = t.user_name WHERE t.token_hash = :hash AND u.disabled = 0",
            hash=_secret_hash(secret),
        )
        if row is None:
            return None
        self.database.execute(
            "UPDATE tokens SET last_used_at = :now WHERE id = :id",
            {"now": time.time(), "id": row[0]},
        )
        return User(row[1], min(row[2], row[3], key=ROLES.index), token=row[4])

    def tokens(self) -> list[TokenInfo]:
        rows = self.database.rows(
            "SELECT id, name, user_name, role, created_at, last_used_at FROM tokens "
            "ORDER BY created_at DESC"
        )
        return [TokenInfo(*row) for row in rows]

    def delete_token(self, token_id: str) -> None:
        """Revoke a token; NotFoundError when there is none with that id."""
        if not self.database.execute("DELETE FROM tokens WHERE id = :id", {"id": token_id}):
            raise NotFoundError(f"no token with id {token_id}")

    def start_session(self, user: User, user_agent: str = "", address: str = "") -> str:
        """A new login session of user; returns its secret, which only the client keeps (here
        it is stored hashed). Expired sessions are swept at the same time."""
        secret = secrets.token_urlsafe(32)
        now = time.time()
        with self.database.write() as connection:
            connection.execute(_SWEEP, {"now": now})
            connection.execute(
                text(
                    "INSERT INTO sessions (id_hash, user_name, created_at, last_seen_at, "
                    "expires_at, user_agent, address) VALUES (:hash, :user, :now, :now, "
                    ":expires, :agent, :address)"
                ),
                {"hash": _secret_hash(secret), "user": user.name, "now": now,
                 "expires": now + self.session_lifetime, "agent": user_agent[:MAX_USER_AGENT],
                 "address": address[:MAX_ADDRESS]},
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
            "WHERE s.id_hash = :hash AND s.expires_at > :now AND u.disabled = 0",
            hash=_secret_hash(secret), now=now,
        )  # fmt: skip
        if row is None:
            return None
        if now - row[3] >= self._session_touch:
            self.database.execute(
                "UPDATE sessions SET last_seen_at = :now, expires_at = :expires "
                "WHERE id_hash = :hash",
                {"now": now, "expires": now + self.session_lifetime, "hash": row[0]},
            )
        return User(row[1], row[2])

    def end_session(self, secret: str) -> None:
        """Log a session out (nothing happens when it had already ended)."""
        self.database.execute(
            "DELETE FROM sessions WHERE id_hash = :hash", {"hash": _secret_hash(secret)}
        )

    def sessions(self, user_name: str | None = None) -> list[SessionInfo]:
        """The live sessions, of one user or of all, the most recently used first."""
        of_user = "AND user_name = :user" if user_name is not None else ""
        rows = self.database.rows(
            "SELECT id_hash, user_name, created_at, last_seen_at, expires_at, user_agent, "
            f"address FROM sessions WHERE expires_at > :now {of_user} "
            "ORDER BY last_seen_at DESC",
            {"now": time.time(), "user": user_name},
        )
        return [SessionInfo(*row) for row in rows]

    def revoke_session(self, session_id: str) -> None:
        """End a session by its listed id; NotFoundError when there is none."""
        if not self.database.execute(
            "DELETE FROM sessions WHERE id_hash = :id", {"id": session_id}
        ):
            raise NotFoundError(f"no session with id {session_id}")

    def sweep_sessions(self) -> int:
        """Delete expired sessions; how many there were."""
        with self.database.write() as connection:
            return changed(connection.execute(_SWEEP, {"now": time.time()}))

    def _one(self, sql: str, **params: Any) -> Any:
        rows = self.database.rows(sql, params)
        return rows[0] if rows else None


_END_SESSIONS_OF = text("DELETE FROM sessions WHERE user_name = :name")
_SWEEP = text("DELETE FROM sessions WHERE expires_at <= :now")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
