"""Scripts without cookies need no CSRF token; browsers' cross-site posts and other host names
(DNS rebinding) are refused by a server on a loopback address."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.web.conftest import Site, assert_error
from web.app import create_app

ROUTE = "/api/v1/search"
QUERY = {"query": "a photo", "limit": 2}


def open_client(site: Site, **overrides: Any) -> FlaskClient:
    """A client of the default mode: embedded, on localhost, login off (auth auto)."""
    values = {"auth": "auto", "host": "127.0.0.1"} | overrides
    return create_app(site.settings.model_copy(update=values), site.services).test_client()


def test_a_json_request_without_cookies_needs_no_csrf_token_in_open_mode(site: Site) -> None:
    answer = open_client(site).post(ROUTE, json=QUERY)
    assert answer.status_code == 200, answer.text
    assert len(answer.json["results"]) == 2  # type: ignore[index]


def test_a_request_with_the_session_cookie_still_needs_the_csrf_token(site: Site) -> None:
    client = open_client(site)
    client.get("/")  # a page sets the session cookie, as in a browser
    error = assert_error(client.post(ROUTE, json=QUERY), 403)
    assert "CSRF" in error["message"]


def test_a_form_post_without_cookies_needs_the_csrf_token(site: Site) -> None:
    error = assert_error(open_client(site).post("/api/v1/admin/rescan", data={"x": "1"}), 403)
    assert "CSRF" in error["message"]


def test_a_cross_site_form_post_is_refused_naming_the_other_site(site: Site) -> None:
    headers = {"Origin": "https://evil.example"}
    client = open_client(site)
    error = assert_error(client.post("/api/v1/admin/rescan", data={}, headers=headers), 403)
    assert "https://evil.example" in error["message"]
    error = assert_error(client.post(ROUTE, json=QUERY, headers=headers), 403)  # JSON too
    assert "another site" in error["message"]


def test_a_post_the_browser_marks_cross_site_is_refused(site: Site) -> None:
    headers = {"Sec-Fetch-Site": "cross-site"}
    error = assert_error(open_client(site).post(ROUTE, json=QUERY, headers=headers), 403)
    assert "another site" in error["message"]


def test_a_post_from_this_servers_own_page_is_served(site: Site) -> None:
    headers = {"Origin": "http://127.0.0.1:8467", "Sec-Fetch-Site": "same-origin"}
    client = open_client(site)
    answer = client.post(ROUTE, json=QUERY, headers=headers, base_url="http://127.0.0.1:8467")
    assert answer.status_code == 200, answer.text


def test_another_host_name_is_refused_by_a_loopback_server(site: Site) -> None:
    client = open_client(site)
    error = assert_error(client.get("/api/v1/me", base_url="http://rebound.example:8467"), 403)
    assert "rebound.example" in error["message"] and "PIXSEEK_ALLOWED_HOSTS" in error["message"]
    assert_error(client.post(ROUTE, json=QUERY, base_url="http://rebound.example:8467"), 403)
    page = client.get("/", base_url="http://rebound.example:8467")
    assert page.status_code == 403


def test_loopback_names_and_the_allowed_hosts_are_served(site: Site) -> None:
    client = open_client(site, allowed_hosts="photos.example, nas.local")
    hosts = ["localhost:8467", "127.0.0.1", "[::1]:8467", "photos.example", "NAS.local:80"]
    for host in hosts:
        answer = client.get("/api/v1/me", base_url=f"http://{host}")
        assert answer.status_code == 200, (host, answer.text)


def test_a_server_on_all_addresses_checks_host_only_when_names_are_set(site: Site) -> None:
    server = {"auth": "on", "host": "0.0.0.0"}
    anywhere = open_client(site, **server).get("/api/v1/health", base_url="http://10.1.2.3")
    assert anywhere.status_code == 200
    named = open_client(site, **server, allowed_hosts="photos.example")
    assert named.get("/api/v1/health", base_url="http://photos.example").status_code == 200
    assert_error(named.get("/api/v1/health", base_url="http://10.1.2.3"), 403)
