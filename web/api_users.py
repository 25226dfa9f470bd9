"""Users for admins: add viewers and admins, set a password, disable; login sessions, revoked."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from pixseek.errors import NotFoundError
from pixseek.store.users import UserInfo, UserStore
from web import answers, auth
from web.api_search import services
from web.errors import ApiError
from web.validation import Name, Text, endpoint

bp = Blueprint("users_api", __name__, url_prefix="/api/v1")
MIN_PASSWORD = 8
Password = Field(min_length=MIN_PASSWORD, max_length=1000, description="at least 8 characters")


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name = Field(min_length=1, max_length=100)
    password: Text = Password
    role: Literal["viewer", "admin"] = "viewer"


class PasswordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: Text = Password


class DisabledBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disabled: bool = Field(
        strict=True, description="true: refused at login, sessions ended, tokens refused"
    )


@endpoint(bp, "/users", role="admin", response=answers.UserList)
def users() -> Response:
    """Every user with its role and whether it is disabled."""
    return jsonify({"users": [u.as_dict() for u in _store().users()]})


@endpoint(
    bp, "/users", "POST", role="admin", body=NewUser, status=201, response=answers.UserInfo,
    answers={409: "a user with this name exists"},
)  # fmt: skip
def add_user(body: NewUser) -> tuple[Response, int]:
    """Add a viewer or an admin."""
    if _store().get(body.name) is not None:
        raise ApiError(409, f"a user named {body.name} exists: set its password instead")
    _store().set_user(body.name, body.password, body.role)
    return jsonify(_info(body.name).as_dict()), 201


@endpoint(
    bp, "/users/<name>/password", "POST", role="admin", body=PasswordBody,
    response=answers.UserInfo, answers={404: "no user with this name"},
)  # fmt: skip
def set_password(name: str, body: PasswordBody) -> Response:
    """Set a user's password; its login sessions end (its tokens keep working)."""
    _store().set_password(name, body.password)
    return jsonify(_info(name).as_dict())


@endpoint(
    bp, "/users/<name>/disabled", "POST", role="admin", body=DisabledBody,
    response=answers.UserInfo,
    answers={404: "no user with this name", 409: "an admin cannot disable itself"},
)  # fmt: skip
def set_disabled(name: str, body: DisabledBody) -> Response:
    """Disable a user (its sessions end and its tokens are refused until enabled) or enable it."""
    if body.disabled and name == auth.require_role("admin").name:
        raise ApiError(409, "you cannot disable yourself: ask another admin")
    _store().set_disabled(name, body.disabled)
    return jsonify(_info(name).as_dict())


@endpoint(bp, "/users/sessions", role="admin", response=answers.SessionList)
def sessions() -> Response:
    """Live login sessions of every user, the most recently used first."""
    return jsonify({"sessions": [s.as_dict() for s in _store().sessions()]})


@endpoint(
    bp, "/users/sessions/<session_id>", "DELETE", role="admin", status=204, response=None,
    answers={404: "no session with this id"},
)  # fmt: skip
def revoke_session(session_id: str) -> tuple[str, int]:
    """End a login session: its browser is logged out at its next request."""
    _store().revoke_session(session_id)
    return "", 204


def _store() -> UserStore:
    return services().users


def _info(name: str) -> UserInfo:
    found = next((u for u in _store().users() if u.name == name), None)
    if found is None:
        raise NotFoundError(f"no user named {name}")
    return found
