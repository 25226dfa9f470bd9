"""Login, logout, roles, CSRF and API tokens, and the settings that decide whether login is on."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import SecretStr
from werkzeug.test import TestResponse

from pixseek.errors import SettingsError
from pixseek.store.users import User
from tests.integration.services import free_port, redis_server
from tests.web.conftest import (
    ADMIN_PASSWORD,
    VIEWER_PASSWORD,
    Site,
    Visitor,
    assert_error,
    log_in,
    page_csrf,
    tags,
)
from web.app import create_app
from web.server import EmbeddedServer, run_gunicorn
from web.services import WebServices

SESSION_COOKIE = "pixseek_session"
VIEWER = "vera"


def test_the_login_form_has_its_fields(nobody: Visitor) -> None:
    answer = nobody.get("/login?next=/admin")
    assert answer.status_code == 200
    names = {str(a["name"]) for a in tags(answer.text, "input") if a.get("name")}
    assert {"username", "password", "csrf_token", "next"} <= names
    assert tags(answer.text, "input", name="next")[0]["value"] == "/admin"
    assert tags(answer.text, "input", name="password")[0]["type"] == "password"


def test_logging_in_goes_to_next_and_sets_a_safe_cookie(site: Site, nobody: Visitor) -> None:
    form = nobody.get("/login")
    token = tags(form.text, "input", name="csrf_token")[0]["value"]
    answer = nobody.post(
        "/login",
        data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token,
              "next": "/admin"},
    )  # fmt: skip
    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == "/admin"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert nobody.get("/api/v1/me").json == {"user": "admin", "role": "admin", "auth": True}


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "admin"]
)
def test_login_never_sends_to_another_site(nobody: Visitor, target: str) -> None:
    token = tags(nobody.get("/login").text, "input", name="csrf_token")[0]["value"]
    answer = nobody.post(
        "/login",
        data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token,
              "next": target},
    )  # fmt: skip
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert location.netloc in ("", "localhost") and location.path == "/"


def test_a_wrong_password_or_user_is_refused(nobody: Visitor) -> None:
    token = tags(nobody.get("/login").text, "input", name="csrf_token")[0]["value"]
    for name, password in [("admin", "wrong"), ("nobody", ADMIN_PASSWORD), ("admin", "")]:
        answer = nobody.post(
            "/login", data={"username": name, "password": password, "csrf_token": token}
        )
        assert answer.status_code == 401
        assert "Wrong user name or password" in answer.text
    assert_error(nobody.get("/api/v1/me"), 401)


def test_logging_in_without_the_forms_csrf_token_is_refused(nobody: Visitor) -> None:
    answer = nobody.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert answer.status_code == 403
    assert_error(nobody.get("/api/v1/me"), 401)


def test_logout_ends_the_session_and_needs_the_csrf_token(site: Site) -> None:
    admin = log_in(site, "admin", ADMIN_PASSWORD)
    csrf, admin.csrf = admin.csrf, None
    assert admin.post("/logout").status_code == 403
    assert admin.get("/api/v1/me").status_code == 200
    admin.csrf = csrf
    answer = admin.post("/logout")
    assert answer.status_code == 302 and urlsplit(answer.headers["Location"]).path == "/login"
    assert_error(admin.get("/api/v1/me"), 401)


def test_the_api_answers_401_without_login(nobody: Visitor) -> None:
    for method, path in [
        ("get", "/api/v1/me"),
        ("get", "/api/v1/jobs"),
        ("get", "/api/v1/images/abc"),
        ("get", "/api/v1/tokens"),
        ("get", "/api/v1/admin/status"),
    ]:
        assert_error(getattr(nobody, method)(path), 401)
    nobody.headers["Authorization"] = "Bearer pxs_not-a-token"
    assert_error(nobody.get("/api/v1/me"), 401)


def test_a_session_post_needs_the_csrf_token(viewer: Visitor) -> None:
    body = {"query": "a picture"}
    assert viewer.post("/api/v1/search", json=body).status_code == 200
    csrf, viewer.csrf = viewer.csrf, None
    assert_error(viewer.post("/api/v1/search", json=body), 403)
    assert_error(viewer.post("/api/v1/search", json=body, headers={"X-CSRF-Token": "guess"}), 403)
    viewer.csrf = csrf
    assert viewer.post("/api/v1/search", json=body).status_code == 200


def test_a_viewer_cannot_act_as_admin(viewer: Visitor) -> None:
    assert viewer.get("/api/v1/me").json == {"user": "vera", "role": "viewer", "auth": True}
    assert_error(viewer.get("/api/v1/tokens"), 403)
    assert_error(viewer.post("/api/v1/tokens", json={"name": "x"}), 403)
    assert_error(viewer.delete("/api/v1/tokens/abc"), 403)
    assert_error(viewer.post("/api/v1/admin/reindex", json={"scope": "all"}), 403)


def test_tokens_are_made_shown_once_used_without_csrf_and_revoked(
    site: Site, admin: Visitor, nobody: Visitor
) -> None:
    made = admin.post("/api/v1/tokens", json={"name": "backup script", "role": "viewer"})
    assert made.status_code == 201, made.text
    token = made.json
    assert set(token) >= {"id", "name", "role", "token"}
    assert (token["name"], token["role"]) == ("backup script", "viewer")
    assert token["token"].startswith("pxs_") and len(token["token"]) > 40

    listed = admin.get("/api/v1/tokens").json["tokens"]
    mine = [t for t in listed if t["id"] == token["id"]]
    assert len(mine) == 1 and mine[0]["last_used_at"] is None
    assert token["token"] not in admin.get("/api/v1/tokens").text, "the secret is shown once"

    script = Visitor(site.app.test_client(), token=token["token"])
    assert script.get("/api/v1/me").json == {"user": "admin", "role": "viewer", "auth": True}
    assert script.post("/api/v1/search", json={"query": "x"}).status_code == 200  # no CSRF
    assert_error(script.post("/api/v1/admin/reindex", json={"scope": "all"}), 403)
    used = [t for t in admin.get("/api/v1/tokens").json["tokens"] if t["id"] == token["id"]]
    assert used[0]["last_used_at"] is not None

    assert admin.delete(f"/api/v1/tokens/{token['id']}").status_code == 204
    assert_error(script.get("/api/v1/me"), 401)
    assert_error(admin.delete(f"/api/v1/tokens/{token['id']}"), 404)
    assert all(t["id"] != token["id"] for t in admin.get("/api/v1/tokens").json["tokens"])


def test_an_admin_token_acts_as_admin(site: Site, admin: Visitor) -> None:
    made = admin.post("/api/v1/tokens", json={"name": "ops", "role": "admin"}).json
    script = Visitor(site.app.test_client(), token=made["token"])
    assert script.get("/api/v1/tokens").status_code == 200
    other = script.post("/api/v1/tokens", json={"name": "made by a token"})
    assert other.status_code == 201 and other.json["role"] == "viewer"
    for made_id in (made["id"], other.json["id"]):
        assert admin.delete(f"/api/v1/tokens/{made_id}").status_code == 204


@pytest.mark.parametrize(
    ("body", "field_name"),
    [({"name": ""}, "name"), ({}, "name"), ({"name": "x", "role": "owner"}, "role"),
     ({"name": "x" * 101}, "name"), ({"name": "x", "expires": 3}, "expires"),
     ({"name": " \t\x1c"}, "name"), ({"name": "a\x00b"}, "name")],
)  # fmt: skip
def test_a_bad_token_request_answers_422(
    admin: Visitor, body: dict[str, str], field_name: str
) -> None:
    assert_error(admin.post("/api/v1/tokens", json=body), 422, field_name)


def test_a_viewer_token_cannot_make_tokens(site: Site, admin: Visitor) -> None:
    made = admin.post("/api/v1/tokens", json={"name": "viewer", "role": "viewer"}).json
    script = Visitor(site.app.test_client(), token=made["token"])
    assert_error(script.post("/api/v1/tokens", json={"name": "up", "role": "admin"}), 403)
    assert admin.delete(f"/api/v1/tokens/{made['id']}").status_code == 204


def test_open_mode_makes_every_visitor_admin_and_checks_csrf_once_a_page_set_the_cookie(
    site: Site,
) -> None:
    settings = site.settings.model_copy(update={"auth": "auto", "host": "127.0.0.1"})
    app = create_app(settings, site.services)
    client = Visitor(app.test_client())
    assert client.get("/api/v1/me").json == {"user": "local", "role": "admin", "auth": False}
    page = client.get("/").text  # the page's session cookie: from now on a browser
    assert_error(client.post("/api/v1/search", json={"query": "x"}), 403)
    client.csrf = page_csrf(page)
    assert client.post("/api/v1/search", json={"query": "x"}).status_code == 200


def test_open_mode_makes_no_tokens_and_says_why(site: Site) -> None:
    settings = site.settings.model_copy(update={"auth": "off", "host": "127.0.0.1"})
    client = Visitor(create_app(settings, site.services).test_client())
    admin_page = client.get("/admin").text
    assert 'id="tokens-off"' in admin_page and 'id="token-form"' not in admin_page
    client.csrf = page_csrf(admin_page)
    refused = assert_error(client.post("/api/v1/tokens", json={"name": "script"}), 409)
    assert "login is off" in refused["message"]


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({"secret_key": None}, "PIXSEEK_SECRET_KEY"),
        ({"secret_key": SecretStr("too short")}, "PIXSEEK_SECRET_KEY"),
        ({"admin_password": None}, "PIXSEEK_ADMIN_PASSWORD"),
        ({"auth": "auto", "host": "0.0.0.0", "admin_password": None}, "PIXSEEK_ADMIN_PASSWORD"),
        ({"auth": "off", "host": "0.0.0.0"}, "PIXSEEK_AUTH=off"),
    ],
)
def test_the_app_refuses_to_start_without_what_login_needs(
    site: Site, overrides: dict[str, object], missing: str
) -> None:
    settings = site.settings.model_copy(update=overrides)
    with pytest.raises(SettingsError, match=missing):
        create_app(settings, site.services)


def test_login_redirect_names_the_page_asked_for(nobody: Visitor) -> None:
    answer = nobody.get("/admin?tab=tokens")
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/admin?tab=tokens"]


def test_server_mode_refuses_to_start_gunicorn_without_a_secret_key(site: Site) -> None:
    settings = site.settings.model_copy(
        update={
            "broker_url": "redis://127.0.0.1:1/0",
            "qdrant_url": "http://127.0.0.1:1",
            "secret_key": None,
        }
    )
    with pytest.raises(SettingsError, match="PIXSEEK_SECRET_KEY"):
        run_gunicorn(settings)  # raises before gunicorn starts, so no port is taken


# Sessions end on the server (issue 11, item 4)


def test_logout_ends_the_session_so_a_replayed_cookie_is_refused(site: Site) -> None:
    admin = log_in(site, "admin", ADMIN_PASSWORD)
    cookie = admin.client.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    assert admin.post("/logout").status_code == 302
    replay = site.app.test_client()
    replay.set_cookie(SESSION_COOKIE, cookie.value)
    assert_error(replay.get("/api/v1/me"), 401)
    page = replay.get("/")
    assert page.status_code == 302 and urlsplit(page.headers["Location"]).path == "/login"


def test_a_password_change_logs_the_user_out_everywhere_but_keeps_its_tokens(site: Site) -> None:
    users = site.services.users
    users.set_user("paula", "first password", "viewer")
    laptop, phone = log_in(site, "paula", "first password"), log_in(site, "paula", "first password")
    admin = log_in(site, "admin", ADMIN_PASSWORD)
    _, token = users.create_token(User("paula", "viewer"), "script", "viewer")
    users.set_user("paula", "second password", "viewer")
    for browser in (laptop, phone):
        assert_error(browser.get("/api/v1/me"), 401)
    script = Visitor(site.app.test_client(), token=token)
    assert script.get("/api/v1/me").json == {"user": "paula", "role": "viewer", "auth": True}
    assert admin.get("/api/v1/me").status_code == 200, "other users stay logged in"


def test_a_role_change_ends_the_users_sessions(site: Site) -> None:
    site.services.users.set_user("rolf", "rolf's password", "admin")
    rolf = log_in(site, "rolf", "rolf's password")
    site.services.users.set_user("rolf", "rolf's password", "viewer")
    assert_error(rolf.get("/api/v1/me"), 401)
    again = log_in(site, "rolf", "rolf's password")
    assert again.get("/api/v1/me").json["role"] == "viewer"


def test_a_restart_with_the_same_admin_password_keeps_sessions(site: Site) -> None:
    admin = log_in(site, "admin", ADMIN_PASSWORD)
    services = site.services  # a restart builds these again, which sets the admin password
    restarted = WebServices(
        site.settings, services.library, services.jobs, services.send_task,
        services.worker_status,
    )  # fmt: skip
    restarted.close()
    assert admin.get("/api/v1/me").status_code == 200


def test_a_disabled_user_is_logged_out_and_its_tokens_stop(site: Site) -> None:
    users = site.services.users
    users.set_user("dora", "dora's password", "viewer")
    dora = log_in(site, "dora", "dora's password")
    _, token = users.create_token(User("dora", "viewer"), "script", "viewer")
    users.set_disabled("dora", True)
    assert_error(dora.get("/api/v1/me"), 401)
    assert_error(Visitor(site.app.test_client(), token=token).get("/api/v1/me"), 401)
    client = site.app.test_client()
    refused = try_login(client, form_token(client), "dora", "dora's password", "10.9.0.1")
    assert refused.status_code == 401 and "Wrong user name or password" in refused.text


def test_a_session_records_its_client_for_a_sessions_page(site: Site) -> None:
    site.services.users.set_user("sara", "sara's password", "viewer")
    client = site.app.test_client()
    answer = try_login(
        client, form_token(client), "sara", "sara's password", "10.9.0.2",
        headers={"User-Agent": "Mozilla/5.0 (the tests)"},
    )  # fmt: skip
    assert answer.status_code == 302
    [session] = site.services.users.sessions("sara")
    assert (session.address, session.user_agent) == ("10.9.0.2", "Mozilla/5.0 (the tests)")


# Login throttling and the user-name timing leak (item 5). Each test builds an app of its own:
# its throttle counts from zero, and the shared site's logins are never refused.


@pytest.fixture
def fresh_app(site: Site) -> Flask:
    app = create_app(site.settings, site.services)
    app.config["TESTING"] = True
    return app


def form_token(client: FlaskClient) -> str:
    """The CSRF token of a login form, which the client's session cookie now carries."""
    return str(tags(client.get("/login").text, "input", name="csrf_token")[0]["value"])


def try_login(
    client: FlaskClient, token: str, name: str, password: str, address: str, **kw: Any
) -> TestResponse:
    """A login from this client address (what a trusted proxy or the peer says)."""
    form = {"username": name, "password": password, "csrf_token": token}
    return client.post("/login", data=form, environ_base={"REMOTE_ADDR": address}, **kw)


def assert_throttled(answer: TestResponse) -> int:
    """429 with a Retry-After of at most the longest window; the seconds to wait."""
    assert answer.status_code == 429, answer.text
    wait = int(answer.headers["Retry-After"])
    assert 1 <= wait <= 3600
    return wait


def test_failed_logins_on_one_name_are_throttled(fresh_app: Flask) -> None:
    client = fresh_app.test_client()
    token = form_token(client)
    for attempt in range(5):  # from five addresses: the name's own limit
        assert try_login(client, token, "vera", "wrong", f"10.1.0.{attempt}").status_code == 401

    page = try_login(client, token, "vera", VIEWER_PASSWORD, "10.1.0.99")
    assert assert_throttled(page) <= 60, "the per-minute limit is the one broken"
    assert tags(page.text, "form", id="login-form"), "a browser gets the login page back"
    error = tags(page.text, "p", id="login-error")
    assert error and "Too many failed logins" in page.text
    script = try_login(
        client, token, "vera", VIEWER_PASSWORD, "10.1.0.98",
        headers={"Accept": "application/json"},
    )  # fmt: skip
    assert_throttled(script)
    assert "Too many failed logins" in assert_error(script, 429)["message"]

    other_name = try_login(client, token, "admin", ADMIN_PASSWORD, "10.1.0.0")
    assert other_name.status_code == 302, "the other names of that address are not throttled"


@pytest.mark.parametrize(
    ("address", "neighbour", "elsewhere"),
    [("10.2.0.1", "10.2.0.1", "10.2.0.2"),
     ("2001:db8:2::1", "2001:db8:2::ffff", "2001:db8:2:1::1")],  # IPv6: a /64 counts as one
)  # fmt: skip
def test_failed_logins_from_one_address_are_throttled(
    fresh_app: Flask, address: str, neighbour: str, elsewhere: str
) -> None:
    client = fresh_app.test_client()
    token = form_token(client)
    for attempt in range(20):  # twenty names, so no name reaches its own limit
        assert try_login(client, token, f"guess-{attempt}", "x", address).status_code == 401
    assert_throttled(try_login(client, token, "admin", ADMIN_PASSWORD, neighbour))
    assert try_login(client, token, "admin", ADMIN_PASSWORD, elsewhere).status_code == 302


def test_successful_logins_are_not_counted(fresh_app: Flask) -> None:
    for _ in range(8):  # more than the name's 5 a minute
        client = fresh_app.test_client()  # a browser each: a logged-in one gets no form
        answer = try_login(client, form_token(client), "vera", VIEWER_PASSWORD, "10.3.0.1")
        assert answer.status_code == 302


def test_server_mode_processes_share_login_counts_through_redis(site: Site, tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as url:
        settings = site.settings.model_copy(update={"broker_url": url, "redis_url": url})
        first, second = create_app(settings, site.services), create_app(settings, site.services)
        client = first.test_client()
        token = form_token(client)
        for attempt in range(5):
            assert try_login(client, token, "rita", "x", f"10.4.0.{attempt}").status_code == 401
        other = second.test_client()
        assert_throttled(try_login(other, form_token(other), "rita", "x", "10.4.0.9"))


def test_logins_are_still_throttled_per_process_while_redis_is_down(site: Site) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings = site.settings.model_copy(update={"broker_url": down, "redis_url": down})
    client = create_app(settings, site.services).test_client()
    token = form_token(client)
    for attempt in range(5):
        assert try_login(client, token, "vera", "wrong", f"10.7.0.{attempt}").status_code == 401
    assert_throttled(try_login(client, token, "vera", VIEWER_PASSWORD, "10.7.0.9"))
    assert try_login(client, token, "admin", ADMIN_PASSWORD, "10.7.0.0").status_code == 302


def test_an_unknown_name_takes_as_long_as_a_wrong_password(fresh_app: Flask) -> None:
    """Seen: an existing user answered in 71 ms, an unknown one in 3.7 ms."""
    client = fresh_app.test_client()
    token = form_token(client)
    known, unknown = [], []
    for attempt in range(5):
        for name, times in ((VIEWER, known), (f"nobody-{attempt}", unknown)):
            started = time.perf_counter()
            answer = try_login(client, token, name, "wrong", f"10.5.{len(times)}.{attempt}")
            times.append(time.perf_counter() - started)
            assert answer.status_code == 401
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2, f"known {known}, unknown {unknown}"


# Secure cookies over https, and proxies believed only when trusted (item 6)


@pytest.mark.parametrize(("proxies", "believed"), [(1, True), (0, False)])
def test_forwarded_https_and_client_address_count_only_from_a_trusted_proxy(
    site: Site, proxies: int, believed: bool
) -> None:
    settings = site.settings.model_copy(update={"trusted_proxies": proxies})
    client = create_app(settings, site.services).test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    form = client.get("/login", headers=forwarded)
    assert ("Secure" in form.headers["Set-Cookie"]) is believed
    assert "HttpOnly" in form.headers["Set-Cookie"]

    name = f"proxied-{proxies}"
    site.services.users.set_user(name, "a password", "viewer")
    token = tags(form.text, "input", name="csrf_token")[0]["value"]
    answer = try_login(client, str(token), name, "a password", "10.6.0.1", headers=forwarded)
    assert answer.status_code == 302
    [session] = site.services.users.sessions(name)
    assert session.address == ("203.0.113.9" if believed else "10.6.0.1")


@pytest.mark.parametrize(("proxies", "believed"), [(1, True), (0, False)])
def test_the_embedded_server_hands_on_forwarded_https_only_from_a_trusted_proxy(
    site: Site, proxies: int, believed: bool
) -> None:
    settings = site.settings.model_copy(update={"trusted_proxies": proxies, "port": 0})
    server = EmbeddedServer(create_app(settings, site.services), settings)
    server.start()
    try:
        answer = httpx.get(server.url + "login", headers={"X-Forwarded-Proto": "https"})
    finally:
        server.stop()
    assert answer.status_code == 200
    assert ("Secure" in answer.headers["Set-Cookie"]) is believed


@pytest.mark.parametrize(("base_url", "secure"), [("https://localhost", True),
                                                  ("http://localhost", False)])  # fmt: skip
def test_the_session_cookie_is_secure_when_served_over_https(
    site: Site, base_url: str, secure: bool
) -> None:
    answer = site.app.test_client().get("/login", base_url=base_url)
    assert ("Secure" in answer.headers["Set-Cookie"]) is secure


# /login's next= with control characters (item 12)


@pytest.mark.parametrize(
    "target",
    ["/admin\r\nSet-Cookie: evil=1", "/\nx", "/a\rb", "/a\x00b", "/a\tb", "/a\x7fb",
     "/\\evil.example/", "/\\\\evil.example"],
)  # fmt: skip
def test_a_next_with_control_characters_or_a_backslash_goes_to_search(
    site: Site, target: str
) -> None:
    client = site.app.test_client()
    form = client.get("/login", query_string={"next": target})
    assert form.status_code == 200
    assert tags(form.text, "input", name="next")[0]["value"] == target
    token = str(tags(form.text, "input", name="csrf_token")[0]["value"])
    form_fields = {"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token}
    answer = client.post("/login", data=form_fields | {"next": target})
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert "evil" not in str(answer.headers)
    logged_in = client.get("/login", query_string={"next": target})
    assert logged_in.status_code == 302 and logged_in.headers["Location"] == "/"
