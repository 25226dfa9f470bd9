"""Login, logout, roles, CSRF and API tokens, and the settings that decide whether login is on."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from pixseek.errors import SettingsError
from tests.web.conftest import (
    ADMIN_PASSWORD,
    Site,
    Visitor,
    assert_error,
    log_in,
    page_csrf,
    tags,
)
from web.app import create_app
from web.server import run_gunicorn


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
     ({"name": "x" * 101}, "name"), ({"name": "x", "expires": 3}, "expires")],
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


def test_open_mode_makes_every_visitor_admin_and_still_checks_csrf(site: Site) -> None:
    settings = site.settings.model_copy(update={"auth": "auto", "host": "127.0.0.1"})
    app = create_app(settings, site.services)
    client = Visitor(app.test_client())
    assert client.get("/api/v1/me").json == {"user": "local", "role": "admin", "auth": False}
    assert_error(client.post("/api/v1/search", json={"query": "x"}), 403)
    client.csrf = page_csrf(client.get("/").text)
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
