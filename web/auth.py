"""Who is asking: sessions for browsers, bearer tokens for scripts, roles, CSRF, login/logout.

Roles: viewer (search, view) and admin (everything). A token request needs no CSRF token, nor
does a JSON request that carries no session cookie (a script: a browser form cannot send JSON,
and web/origins.py refuses other sites' pages); a request with the session cookie (or a form)
that changes something does, as a form field or a header.

A session is a row of the user store: the signed cookie carries only its random id (and the
CSRF token), so logging out, a change of the user's password or role, or disabling the user
ends it on the server, and a copy of an old cookie logs nobody in.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface

from pixseek.errors import SettingsError
from pixseek.settings import Settings
from pixseek.store.users import ROLES, User, UserStore
from web.errors import ApiError
from web.login_throttle import init_login_throttle

bp = Blueprint("auth", __name__)
OPEN_USER = User("local", "admin")  # every visitor, when auth is off
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
MIN_SECRET_KEY = 32
SESSION_ID = "sid"  # the cookie's key for the server-side session's secret id


def auth_enabled(settings: Settings) -> bool:
    """Whether visitors must log in; raise SettingsError when auth is off where it may not be."""
    local = is_loopback(settings.host) and not settings.server_mode
    if settings.auth == "off" and not local:
        raise SettingsError(
            "PIXSEEK_AUTH=off is allowed only in the embedded mode listening on localhost "
            f"(this is {'server mode' if settings.server_mode else 'host ' + settings.host})"
        )
    return settings.auth == "on" or (settings.auth == "auto" and not local)


def check_auth_settings(settings: Settings) -> None:
    """With auth on, refuse to start without a strong secret key and an admin password."""
    missing = []
    key = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if len(key) < MIN_SECRET_KEY:
        missing.append(
            f"PIXSEEK_SECRET_KEY (at least {MIN_SECRET_KEY} random characters, e.g. the output "
            "of `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    if not settings.admin_password or not settings.admin_password.get_secret_value():
        missing.append("PIXSEEK_ADMIN_PASSWORD (the password of the `admin` user)")
    if missing:
        raise SettingsError("login is required here, so set " + " and ".join(missing))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie, marked Secure whenever the request came over https
    (directly, or through a trusted proxy's X-Forwarded-Proto), so it never goes out over
    plain http afterwards."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or super().get_cookie_secure(app)


def init_app(app: Flask, settings: Settings, users: UserStore, enabled: bool) -> None:
    """Attach the user store, the session cookie, the request checks and the login throttle."""
    app.extensions["pixseek_users"] = users
    app.extensions["pixseek_auth"] = enabled
    app.extensions["pixseek_auth_setting"] = settings.auth
    app.session_interface = _SessionCookies()
    app.before_request(_identify)
    app.before_request(_check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(_template_context)
    app.register_blueprint(bp)
    init_login_throttle(app, settings)


def users() -> UserStore:
    store: UserStore = current_app.extensions["pixseek_users"]
    return store


def enabled() -> bool:
    return bool(current_app.extensions["pixseek_auth"])


def current_user() -> User | None:
    """The user of this request (set before each request), None when nobody logged in."""
    user: User | None = g.get("user")
    return user


def require_role(role: str) -> User:
    """The current user, or ApiError 401 (nobody) / 403 (a lower role)."""
    user = current_user()
    if user is None:
        raise ApiError(401, "log in first, or send an API token (Authorization: Bearer ...)")
    if ROLES.index(user.role) < ROLES.index(role):
        raise ApiError(403, f"this needs the {role} role; {_who(user)}")
    return user


def _who(user: User) -> str:
    """Who asks and with which role: a token's role may be below its user's own."""
    if user.token is None:
        return f"{user.name} is a {user.role}"
    return f"this API token (“{user.token}”, of the user {user.name}) has the {user.role} role"


def login_off_reason() -> str:
    """Why nobody logs in here, naming the setting as it is (off, or auto on localhost)."""
    setting = current_app.extensions["pixseek_auth_setting"]
    if setting == "auto":
        return "PIXSEEK_AUTH=auto, which leaves login off in the embedded mode on localhost"
    return f"PIXSEEK_AUTH={setting}, on localhost"


def csrf_token() -> str:
    """This session's CSRF token, made on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _identify() -> None:
    g.user, g.by_token = None, False
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        g.user = users().user_for_token(header[7:].strip())
        g.by_token = True
        if g.user is None:
            raise ApiError(401, "unknown or revoked API token")
    elif not enabled():
        g.user = OPEN_USER
    elif SESSION_ID in session:
        g.user = users().user_for_session(str(session[SESSION_ID]))
        if g.user is None:  # ended on the server: the cookie stops naming it
            session.pop(SESSION_ID)


def _check_csrf() -> None:
    """A session request that changes something carries the session's CSRF token.

    Hand-written rather than Flask-WTF's CSRFProtect, which was weighed: the exemption here is
    per request (a bearer token needs none), where CSRFProtect exempts whole views, so its
    default check would be turned off and called from here anyway; its tokens expire after an
    hour (a search page left open would fail its next search); and it answers 400, where the
    API documents 403. What remains is a token per session and one constant-time compare."""
    if request.method not in UNSAFE_METHODS or g.get("by_token") or _script_request():
        return
    if g.get("user") is None and request.endpoint != "auth.login_submit":
        return  # no session to ride on: the route's role check answers 401
    sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token") or ""
    expected = session.get("csrf")
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        raise ApiError(403, "missing or wrong CSRF token: reload the page and try again")


def _script_request() -> bool:
    """JSON without the session cookie: what curl sends, and what no form of another site can
    (cross-site JSON needs a CORS preflight, which this server never grants)."""
    cookie = current_app.config["SESSION_COOKIE_NAME"]
    return request.is_json and cookie not in request.cookies


def _template_context() -> dict[str, object]:
    user = current_user()
    return {
        "user": user.name if user else None,
        "role": user.role if user else None,
        "auth_enabled": enabled(),
        "login_off_reason": login_off_reason,
    }


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only, else the search page."""
    return target if target and _is_local_path(target) else url_for("pages.search")


def _is_local_path(target: str) -> bool:
    """'/...' on this site: no scheme, never '//host' or '/\\host' (browsers read a backslash
    as a slash), and no control character (CR/LF would split the Location header: a 500)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    return not any(ord(char) < 0x20 or ord(char) == 0x7F for char in target)


@bp.get("/login")
def login() -> str | Response:
    if current_user() is not None:
        return redirect(safe_next(request.args.get("next")))  # type: ignore[return-value]
    return render_template("login.html", error=None, next=request.args.get("next", ""))


@bp.post("/login")
def login_submit() -> tuple[str, int] | Response:
    name = request.form.get("username", "").strip()
    user = users().authenticate(name, request.form.get("password", ""))
    if user is None:
        error = "Wrong user name or password."
        return render_template("login.html", error=error, next=request.form.get("next", "")), 401
    session.clear()  # a new session id on login: no session fixation
    session[SESSION_ID] = users().start_session(
        user, user_agent=request.user_agent.string, address=request.remote_addr or ""
    )
    session.permanent = True
    return redirect(safe_next(request.form.get("next")))  # type: ignore[return-value]


@bp.post("/logout")
def logout() -> Response:
    if SESSION_ID in session:
        users().end_session(str(session[SESSION_ID]))
    session.clear()
    return redirect(url_for("auth.login"))  # type: ignore[return-value]
