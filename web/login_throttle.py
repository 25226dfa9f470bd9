"""Login throttling: failed logins are limited per user name and per client address.

Only failures count (Flask-Limiter's deduct_when: a 401 answer), so nobody is slowed down by
their own successful logins. Once a limit is reached, every login on that name or from that
address answers 429 with Retry-After, before the password is checked (no scrypt work spent).
The counts live in memory in the embedded mode (one process) and in Redis in server mode, so
that gunicorn's web processes share them. The client address is the peer's, or what a trusted
proxy says it is (PIXSEEK_TRUSTED_PROXIES).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_limiter import Limiter, RateLimitExceeded

from pixseek.settings import Settings
from web.errors import ApiError

log = logging.getLogger(__name__)
# Guessing one password: 5 tries a minute, 20 an hour. One address may try several names (a
# household or an office behind one address), so it gets more.
PER_NAME = "5 per minute; 20 per hour"
PER_ADDRESS = "20 per minute; 100 per hour"
LOGIN_ENDPOINT = "auth.login_submit"
REDIS_TIMEOUT = 2  # seconds; a Redis that does not answer falls back to counting in memory


def init_login_throttle(app: Flask, settings: Settings) -> Limiter:
    """Limit failed logins on app's login form (the auth blueprint must be registered)."""
    redis = (settings.redis_url or settings.broker_url) if settings.server_mode else None
    limiter = Limiter(
        _address_key,
        app=app,
        storage_uri=redis or "memory://",
        storage_options={"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT}
        if redis
        else {},
        strategy="moving-window",  # Retry-After: when the oldest counted failure leaves the window
        key_prefix="pixseek-login",
        in_memory_fallback_enabled=True,  # Redis down: still throttle, per process
        swallow_errors=True,  # Redis lost mid-request: log it, never answer a login with a 500
    )
    # The limits wrap this app's view only: every app (tests build several) counts on its own.
    view: Callable[..., Any] = app.view_functions[LOGIN_ENDPOINT]
    for limit, key in ((PER_NAME, _name_key), (PER_ADDRESS, _address_key)):
        view = limiter.limit(limit, key_func=key, deduct_when=_failed)(view)
    app.view_functions[LOGIN_ENDPOINT] = view
    app.extensions["pixseek_login_limiter"] = limiter
    app.register_error_handler(RateLimitExceeded, _throttled)
    return limiter


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _name_key() -> str:
    """The user name tried, hashed: any text fits a storage key, and Redis never holds names."""
    name = request.form.get("username", "").strip()
    return "name-" + hashlib.sha256(name.encode(errors="backslashreplace")).hexdigest()[:32]


def _address_key() -> str:
    """The client's address; an IPv6 client counts by its /64, which one host usually holds."""
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "address-" + address
    if parsed.version == 6:
        return "address-" + str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return "address-" + str(parsed)


def _throttled(exc: RateLimitExceeded) -> tuple[str | Response, int, dict[str, str]]:
    """429 with Retry-After: the login page saying how long to wait, or JSON for a script."""
    wait = _seconds_to_wait()
    message = (
        "Too many failed logins for this user name or from this address. "
        f"Try again in {wait} seconds."
    )
    headers = {"Retry-After": str(wait)}
    if request.accept_mimetypes.best == "application/json":
        return jsonify(ApiError(429, message).as_dict()), 429, headers
    page = render_template("login.html", error=message, next=request.form.get("next", ""))
    return page, 429, headers


def _seconds_to_wait() -> int:
    """Until every limit this request broke lets a login through again."""
    limiter: Limiter = current_app.extensions["pixseek_login_limiter"]
    broken = [limit for limit in limiter.current_limits if limit.breached]
    try:
        # window[0]: when the oldest counted failure leaves the window (reset_at rounds it up)
        reset_at = max((limit.window[0] for limit in broken), default=time.time() + 60)
    except Exception:  # the storage (Redis) went away since the check: a minute is the least
        log.warning("login throttle: cannot read the windows; asking for a minute's wait")
        reset_at = time.time() + 60
    return max(1, math.ceil(reset_at - time.time()))
