"""The Flask app factory: create_app(settings=None, services=None)."""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import (
    Flask,
    Response,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.middleware.proxy_fix import ProxyFix

from embed import EmbedError, ImageDecodeError
from pixseek.errors import (
    ConflictError,
    IndexBackendError,
    NotFoundError,
    PathNotFoundError,
    PixseekError,
    QueryError,
    SettingsError,
    StoreUnavailableError,
    UploadTooLargeError,
)
from pixseek.settings import Settings, load_settings
from pixseek.store.users import UserError
from web import (
    api_admin,
    api_jobs,
    api_quality,
    api_search,
    api_users,
    auth,
    limits,
    origins,
    pages,
)
from web.errors import ApiError
from web.services import WebServices, for_server

log = logging.getLogger(__name__)
# Core errors a user can act on, and the status each answers with.
ERROR_STATUS: list[tuple[type[Exception], int]] = [
    (NotFoundError, 404),
    (UploadTooLargeError, 413),
    (QueryError, 422),
    (UserError, 422),
    (PathNotFoundError, 422),
    (ImageDecodeError, 422),
    (SettingsError, 422),
    (ConflictError, 409),
    (IndexBackendError, 503),
    (StoreUnavailableError, 503),
]


def create_app(settings: Settings | None = None, services: WebServices | None = None) -> Flask:
    """The web app over these services (built from the environment, server mode, when None).

    Refuses (SettingsError) to build when login is required and the secret key or the admin
    password is missing."""
    settings = settings or (services.settings if services else load_settings())
    login_required = check_settings(settings)
    services = services or for_server(settings)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_secret_key(settings, login_required),
        SESSION_COOKIE_NAME="pixseek_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=services.users.session_lifetime),
        JSON_SORT_KEYS=False,
    )
    app.extensions["pixseek"] = services
    origins.init_app(app, settings, auth.is_loopback(settings.host))  # before any session
    auth.init_app(app, settings, services.users, login_required)
    limits.init_app(app, settings)  # after the caller is known: limits depend on who asks
    if settings.trusted_proxies:  # only then are X-Forwarded-For/-Proto/-Host believed
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.register_blueprint(api_search.bp)
    app.register_blueprint(api_admin.bp)
    app.register_blueprint(api_jobs.bp)
    app.register_blueprint(api_users.bp)
    app.register_blueprint(api_quality.bp)
    app.register_blueprint(pages.bp)
    _register_error_handlers(app)
    app.after_request(_security_headers)
    return app


def check_settings(settings: Settings) -> bool:
    """Whether login is required; SettingsError when these settings cannot serve the app."""
    login_required = auth.auth_enabled(settings)
    if login_required:
        auth.check_auth_settings(settings)
    return login_required


def _secret_key(settings: Settings, login_required: bool) -> str:
    """The configured key; in open mode, one kept in the data directory so sessions (and their
    CSRF tokens) survive a restart."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value()
    assert not login_required, "check_auth_settings refuses this"
    path = settings.data_dir / "secret_key"
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


# The pages load their scripts, styles and images from this site only (query chips show
# blob: and data: URLs of dropped images); no site may frame them (clickjacking).
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# A photo's file or thumbnail opened on its own runs nothing, whatever its bytes hold (a
# polyglot that slipped through, an SVG some day): a sandbox with no sources.
FILE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def _security_headers(answer: Response) -> Response:
    headers = answer.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")  # the type said, never a guess
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    mimetype = answer.mimetype or ""
    is_file = mimetype.startswith("image/") or mimetype == "application/octet-stream"
    headers.setdefault("Content-Security-Policy", FILE_POLICY if is_file else PAGE_POLICY)
    return answer


def _register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _answer)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(PixseekError, _core_error)
    app.register_error_handler(EmbedError, _core_error)


def _core_error(exc: Exception) -> Response | tuple[Response | str, int]:
    for kind, status in ERROR_STATUS:
        if isinstance(exc, kind):
            return _answer(ApiError(status, str(exc)))
    log.exception("unexpected error: %s", exc)
    return _answer(ApiError(500, str(exc)))


def _http_error(exc: HTTPException) -> Response | tuple[Response | str, int]:
    status = exc.code or 500
    message = exc.description or exc.name
    if status == 413:
        message = "the request body is larger than this server accepts here"
    answer = make_response(_answer(ApiError(status, message)))
    for name, value in exc.get_headers():  # Allow on a 405, Content-Range on a 416, Retry-After
        if name.lower() != "content-type":
            answer.headers[name] = value
    return answer


def _answer(error: ApiError) -> Response | tuple[Response | str, int]:
    """JSON for the API; for pages, a redirect to the login page (401) or a short HTML page."""
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return jsonify(error.as_dict()), error.status
    if error.status == 401:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))  # type: ignore[return-value]
    title = HTTP_STATUS_CODES.get(error.status, "Error")
    page = render_template("error.html", status=error.status, title=title, message=error.message)
    return page, error.status
