"""The small things a new user ran into (issue 14, item 5): what a refused token is told, how the
admin page describes a login that is off, the error pages' layout, and the browser's icon."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests.web.conftest import Site, Visitor, assert_error, make_token, page_csrf, tags
from web.app import create_app


def test_a_viewer_token_of_admin_is_told_it_is_a_viewer_token_not_that_admin_is_a_viewer(
    site: Site,
) -> None:
    script = Visitor(site.app.test_client(), token=make_token(site, "nightly report", "viewer"))
    refused = assert_error(script.post("/api/v1/admin/reindex", json={"scope": "all"}), 403)
    message = refused["message"]
    assert "admin is a viewer" not in message, message
    assert "nightly report" in message and "of the user admin" in message, message
    assert "has the viewer role" in message, message


def test_a_viewer_with_a_session_is_named_as_a_viewer(viewer: Visitor) -> None:
    refused = assert_error(viewer.get("/api/v1/admin/status"), 403)
    assert refused["message"] == "this needs the admin role; vera is a viewer"


@pytest.mark.parametrize(
    ("setting", "said"),
    [("auto", "PIXSEEK_AUTH=auto, which leaves login off"), ("off", "PIXSEEK_AUTH=off")],
)
def test_the_tokens_section_names_the_login_setting_as_it_is(
    site: Site, setting: str, said: str
) -> None:
    settings = site.settings.model_copy(update={"auth": setting, "host": "127.0.0.1"})
    client = Visitor(create_app(settings, site.services).test_client())
    page = client.get("/admin").text
    off = _text_of(page, "tokens-off")
    assert said in off, off
    if setting == "auto":
        assert "PIXSEEK_AUTH=off" not in off, off
    client.csrf = page_csrf(page)
    refused = assert_error(client.post("/api/v1/tokens", json={"name": "script"}), 409)
    assert said in refused["message"], refused


def test_the_403_page_has_the_app_layout_and_the_reason(viewer: Visitor) -> None:
    answer = viewer.get("/admin", headers={"Accept": "text/html"})
    assert answer.status_code == 403 and answer.mimetype == "text/html"
    html = answer.text
    assert tags(html, "header", **{"class": "site-header"}), "the app's header"
    assert tags(html, "nav", **{"aria-label": "Main"}), "the app's navigation for the viewer"
    assert tags(html, "link", rel="stylesheet"), "the app's stylesheet"
    assert "this needs the admin role; vera is a viewer" in _text_of(html, "error-message")
    assert tags(html, "a", href="/"), "a way back to search"


def test_a_missing_page_has_the_app_layout_too(viewer: Visitor) -> None:
    answer = viewer.get("/no-such-page", headers={"Accept": "text/html"})
    assert answer.status_code == 404
    assert tags(answer.text, "header", **{"class": "site-header"})
    assert _text_of(answer.text, "error-title") == "Not Found"


def test_the_pages_link_an_svg_icon_and_favicon_ico_answers(
    viewer: Visitor, nobody: Visitor
) -> None:
    icons = tags(viewer.get("/").text, "link", rel="icon")
    svg = [i for i in icons if i.get("type") == "image/svg+xml"]
    assert len(svg) == 1, icons
    linked = viewer.get(str(svg[0]["href"]))
    assert linked.status_code == 200 and b"<svg" in linked.data
    for who in (viewer, nobody):
        ico = who.get("/favicon.ico")
        assert ico.status_code == 200, ico.status_code
        assert ico.mimetype == "image/vnd.microsoft.icon"
        assert ico.data[:4] == b"\x00\x00\x01\x00", "an ICO file's header"


class _TextOf(HTMLParser):
    """The text inside the element with a given id."""

    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id = element_id
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth or dict(attrs).get("id") == self.element_id:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        self.depth = max(0, self.depth - 1)

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


def _text_of(html: str, element_id: str) -> str:
    parser = _TextOf(element_id)
    parser.feed(html)
    return " ".join("".join(parser.parts).split())
