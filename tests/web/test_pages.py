"""The HTML pages: who may see each, what every page carries, and where a stranger is sent."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from pixseek.photos.identity import file_sha256, point_id
from tests.web.conftest import Site, Visitor, tags

PAGES = ["/", "/photos/{photo}", "/upload", "/admin"]
ADMIN_ONLY = {"/upload", "/admin"}


def page_path(site: Site, page: str) -> str:
    return page.format(photo=point_id(file_sha256(site.library[0])))


@pytest.mark.parametrize("page", PAGES)
def test_a_stranger_is_sent_to_the_login_page(site: Site, nobody: Visitor, page: str) -> None:
    path = page_path(site, page)
    answer = nobody.get(path)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [path]


@pytest.mark.parametrize("page", PAGES)
def test_each_page_carries_csrf_role_user_and_its_scripts(
    site: Site, admin: Visitor, viewer: Visitor, page: str
) -> None:
    path = page_path(site, page)
    for visitor, name, role in [(admin, "admin", "admin"), (viewer, "vera", "viewer")]:
        answer = visitor.get(path)
        if role == "viewer" and page in ADMIN_ONLY:
            assert answer.status_code == 403, answer.text
            continue
        assert answer.status_code == 200, answer.text
        assert answer.mimetype == "text/html"
        html = answer.text
        assert tags(html, "meta", name="pixseek-role")[0]["content"] == role
        assert tags(html, "meta", name="pixseek-user")[0]["content"] == name
        assert tags(html, "meta", name="csrf-token")[0]["content"] == visitor.csrf
        scripts = {str(s["src"]).split("?")[0] for s in tags(html, "script") if s.get("src")}
        assert "/static/common.js" in scripts, scripts
        for src in scripts:
            assert src.startswith("/static/"), f"no CDN: {src}"
            assert visitor.get(src).status_code == 200, src


def test_the_login_page_carries_an_empty_role(nobody: Visitor) -> None:
    html = nobody.get("/login").text
    assert tags(html, "meta", name="pixseek-role")[0]["content"] in ("", None)
    assert tags(html, "meta", name="csrf-token")[0]["content"]


def test_stylesheets_and_scripts_are_served_from_the_app(site: Site, admin: Visitor) -> None:
    html = admin.get("/").text
    sheets = [str(s["href"]) for s in tags(html, "link", rel="stylesheet")]
    assert sheets and all(s.startswith("/static/") for s in sheets), sheets
    for sheet in sheets:
        answer = admin.get(sheet)
        assert answer.status_code == 200 and answer.mimetype == "text/css"


@pytest.mark.parametrize("page", [*PAGES, "/login"])
def test_every_page_forbids_framing_sniffing_and_foreign_scripts(
    site: Site, admin: Visitor, page: str
) -> None:
    answer = admin.get(page_path(site, page), follow_redirects=page == "/login")
    assert answer.status_code == 200
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
