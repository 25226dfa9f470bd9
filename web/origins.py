"""Which sites may talk to this server: the Host a request names and the Origin it comes from.

A server on a loopback address (where login may be off) answers only to its own names:
localhost, the loopback addresses, the address it listens on and PIXSEEK_ALLOWED_HOSTS. A web
page of another site that makes its own name resolve to 127.0.0.1 (DNS rebinding) sends its
own name as Host and is refused before it can read or change anything. Other servers check Host
only when PIXSEEK_ALLOWED_HOSTS names their names.

A browser names the page a request comes from (Sec-Fetch-Site, Origin); a request that changes
something and comes from another site's page is refused, whoever it would act as. That holds
where CSRF tokens are not asked for: a JSON request without cookies (a script, not a browser
form, which cannot send JSON to another site without the preflight this server never grants).
Origin is compared by host and port, not scheme: behind a TLS proxy the page is https and the
request reaches this server as http.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, request

from pixseek.settings import Settings
from web.errors import ApiError

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def init_app(app: Flask, settings: Settings, loopback: bool) -> None:
    """Check Host (on a loopback server, or where names are configured) and cross-site posts."""
    names = {name.lower() for name in settings.allowed_host_names}
    if loopback:
        names |= LOOPBACK_NAMES | {settings.host.lower()}
    app.extensions["pixseek_host_names"] = frozenset(names)
    app.before_request(check_host)
    app.before_request(check_origin)


def check_host() -> None:
    names: frozenset[str] = current_app.extensions["pixseek_host_names"]
    if not names:
        return  # no names configured on a server that is not on a loopback address
    name = host_name(request.host)
    if name not in names:
        raise ApiError(
            403,
            f"this server does not answer to the host name {name!r} (Host header): use "
            f"{sorted(names)[0]!r}, or add the name to PIXSEEK_ALLOWED_HOSTS",
        )


def host_name(host: str) -> str:
    """The name of a Host header, without its port or an IPv6 address's brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def check_origin() -> None:
    """A request that changes something comes from this site's pages, or from no page at all
    (Origin is checked where Host is: behind a proxy that rewrites Host it would not match)."""
    if request.method not in UNSAFE_METHODS:
        return
    if request.headers.get("Sec-Fetch-Site", "") == "cross-site":
        raise _cross_site("the browser says the request comes from another site")
    origin = request.headers.get("Origin")
    checked = bool(current_app.extensions["pixseek_host_names"])
    if checked and origin is not None and not same_host(origin):
        raise _cross_site(f"its page is at {origin}, not on this server")


def same_host(origin: str) -> bool:
    return urlsplit(origin).netloc.lower() == request.host.lower()


def _cross_site(why: str) -> ApiError:
    return ApiError(403, f"a request from another site's page is refused: {why}")
