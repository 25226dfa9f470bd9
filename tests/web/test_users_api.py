"""Admins manage users through the API: add, set a password, disable; sessions listed and ended."""

from __future__ import annotations

from tests.web.conftest import Site, Visitor, assert_error, log_in

PASSWORD = "a password for petra"


def test_an_admin_adds_a_viewer_who_can_then_log_in(site: Site, admin: Visitor) -> None:
    answer = admin.post("/api/v1/users", json={"name": "petra", "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    assert answer.json is not None
    assert (answer.json["name"], answer.json["role"], answer.json["disabled"]) == (
        "petra", "viewer", False,
    )  # fmt: skip
    listed = admin.get("/api/v1/users").json
    assert listed is not None and "petra" in [u["name"] for u in listed["users"]]
    petra = log_in(site, "petra", PASSWORD)
    assert petra.get("/api/v1/me").json == {"user": "petra", "role": "viewer", "auth": True}
    assert_error(admin.post("/api/v1/users", json={"name": "petra", "password": PASSWORD}), 409)


def test_a_bad_user_is_refused_naming_the_field(admin: Visitor) -> None:
    short = {"name": "x", "password": "short"}
    assert_error(admin.post("/api/v1/users", json=short), 422, "password")
    body = {"name": "x", "password": PASSWORD, "role": "owner"}
    assert_error(admin.post("/api/v1/users", json=body), 422, "role")
    assert_error(admin.post("/api/v1/users", json={"name": " ", "password": PASSWORD}), 422, "name")


def test_a_viewer_cannot_manage_users(viewer: Visitor) -> None:
    assert_error(viewer.get("/api/v1/users"), 403)
    assert_error(viewer.post("/api/v1/users", json={"name": "y", "password": PASSWORD}), 403)


def test_a_new_password_ends_the_users_sessions(site: Site, admin: Visitor) -> None:
    admin.post("/api/v1/users", json={"name": "quinn", "password": PASSWORD})
    quinn = log_in(site, "quinn", PASSWORD)
    answer = admin.post("/api/v1/users/quinn/password", json={"password": "another password"})
    assert answer.status_code == 200, answer.text
    assert_error(quinn.get("/api/v1/me"), 401)
    log_in(site, "quinn", "another password")
    assert_error(admin.post("/api/v1/users/nobody/password", json={"password": PASSWORD}), 404)


def test_a_disabled_user_cannot_log_in_until_enabled(site: Site, admin: Visitor) -> None:
    admin.post("/api/v1/users", json={"name": "rosa", "password": PASSWORD})
    rosa = log_in(site, "rosa", PASSWORD)
    answer = admin.post("/api/v1/users/rosa/disabled", json={"disabled": True})
    assert answer.status_code == 200 and answer.json["disabled"] is True  # type: ignore[index]
    assert_error(rosa.get("/api/v1/me"), 401)
    assert site.services.users.authenticate("rosa", PASSWORD) is None
    admin.post("/api/v1/users/rosa/disabled", json={"disabled": False})
    log_in(site, "rosa", PASSWORD)
    refused = assert_error(admin.post("/api/v1/users/admin/disabled", json={"disabled": True}), 409)
    assert "yourself" in refused["message"]


def test_sessions_are_listed_and_revoked(site: Site, admin: Visitor) -> None:
    admin.post("/api/v1/users", json={"name": "sam", "password": PASSWORD})
    sam = log_in(site, "sam", PASSWORD)
    listed = admin.get("/api/v1/users/sessions").json
    assert listed is not None
    own = [s for s in listed["sessions"] if s["user"] == "sam"]
    assert len(own) == 1 and own[0]["user_agent"], own
    assert admin.delete(f"/api/v1/users/sessions/{own[0]['id']}").status_code == 204
    assert_error(sam.get("/api/v1/me"), 401)
    assert_error(admin.delete(f"/api/v1/users/sessions/{own[0]['id']}"), 404)
