"""The admin page's Users card in a real browser: add a viewer, who logs in in a browser of its
own; end its session, reset its password, disable it: each time that browser is logged out."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.e2e.conftest import TIMEOUT_MS, Browsing, Server
from tests.e2e.test_browser import api, log_in

pytestmark = pytest.mark.browser
VIEWER = "petra"
FIRST_PASSWORD = "petra's first password"
SECOND_PASSWORD = "petra's second password"


@pytest.fixture
def other_browser(browser: Browser) -> Iterator[BrowserContext]:
    """A second browser, for the user the admin manages: its own cookies, its own session."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


def user_row(page: Page, name: str) -> Locator:
    return page.locator(f'#users li.user[data-user="{name}"]')


def viewer_logs_in(page: Page, server: Server, password: str) -> None:
    page.goto(server.url + "/login")
    page.fill("#username", VIEWER)
    page.fill("#password", password)
    page.click("#login-submit")
    expect(page).to_have_url(server.url + "/")
    expect(page.locator(".site-nav")).not_to_contain_text("Admin")


def assert_logged_out(page: Page, server: Server) -> None:
    assert page.request.get(server.url + "/api/v1/me").status == 401
    page.reload()
    expect(page).to_have_url(re.compile(r"/login\?next="))


def add_viewer(browsing: Browsing) -> Locator:
    page = browsing.page
    page.fill("#user-name", VIEWER)
    page.fill("#user-password", FIRST_PASSWORD)
    page.select_option("#user-role", "viewer")
    page.click("#user-submit")
    row = user_row(page, VIEWER)
    expect(row).to_contain_text("viewer")
    expect(row).to_contain_text("0 sessions")
    expect(page.locator("#user-name")).to_have_value("")
    browsing.shot("viewer-added")
    return row


def test_add_a_viewer_end_its_session_reset_its_password_and_disable_it(
    browsing: Browsing, server: Server, other_browser: BrowserContext
) -> None:
    page, theirs = browsing.page, other_browser.new_page()
    log_in(browsing, "/admin")
    mine = user_row(page, "admin")
    expect(mine).to_contain_text("(you)")
    expect(mine.get_by_role("button", name=re.compile("^Disable"))).to_have_count(0)  # refused
    row = add_viewer(browsing)

    browsing.allow(409, r"/api/v1/users$")  # the same name again: the API's message is shown
    page.fill("#user-name", VIEWER)
    page.fill("#user-password", FIRST_PASSWORD)
    page.click("#user-submit")
    expect(page.locator("#user-form-error")).to_contain_text(f"a user named {VIEWER} exists")
    browsing.shot("same-name-refused")

    viewer_logs_in(theirs, server, FIRST_PASSWORD)
    page.reload()
    expect(row).to_contain_text("1 session")
    row.locator("summary").click()
    sessions = row.locator(".user-session:not(.user-token)")
    expect(sessions).to_have_count(1)
    expect(sessions.first).to_contain_text("Chrome")
    browsing.shot("viewer-session-listed")
    row.get_by_role("button", name=f"End session of {VIEWER}").click()
    expect(row).to_contain_text("0 sessions")
    assert_logged_out(theirs, server)

    viewer_logs_in(theirs, server, FIRST_PASSWORD)
    row.get_by_role("button", name=f"Reset password of {VIEWER}").click()
    page.get_by_label(f"New password for {VIEWER}").fill(SECOND_PASSWORD)
    browsing.shot("password-form")
    row.get_by_role("button", name="Set password", exact=True).click()
    expect(page.locator("#toasts")).to_contain_text(f"New password set for {VIEWER}")
    assert_logged_out(theirs, server)
    viewer_logs_in(theirs, server, SECOND_PASSWORD)

    row.get_by_role("button", name=f"Disable {VIEWER}").click()
    expect(row.locator(".badge", has_text="disabled")).to_be_visible()
    browsing.shot("viewer-disabled")
    assert_logged_out(theirs, server)
    theirs.fill("#username", VIEWER)
    theirs.fill("#password", SECOND_PASSWORD)
    theirs.click("#login-submit")
    expect(theirs.locator("#login-error")).to_contain_text("Wrong user name or password")

    row.get_by_role("button", name=f"Enable {VIEWER}").click()
    expect(row.locator(".badge", has_text="disabled")).to_have_count(0)
    viewer_logs_in(theirs, server, SECOND_PASSWORD)
    browsing.assert_clean()


def test_a_short_password_is_refused_with_the_apis_reason(
    browsing: Browsing, server: Server
) -> None:
    page = browsing.page
    log_in(browsing, "/admin")
    browsing.allow(422, r"/api/v1/users/admin/password$")
    row = user_row(page, "admin")
    row.get_by_role("button", name="Reset password of admin").click()
    field = page.get_by_label("New password for admin")
    field.evaluate("input => input.removeAttribute('minlength')")  # past the browser's own check
    field.fill("short")
    row.get_by_role("button", name="Set password", exact=True).click()
    expect(row.locator(".user-error")).to_contain_text("password")
    expect(row.locator(".user-error")).to_contain_text("8 characters")
    browsing.shot("short-password-refused")
    browsing.assert_clean()


def test_a_viewer_refused_a_page_sees_the_app_layout_and_the_icon_is_there(
    browsing: Browsing, server: Server
) -> None:
    page = browsing.page
    log_in(browsing, "/admin")
    api(browsing, "POST", "/api/v1/users", {"name": "quinn", "password": FIRST_PASSWORD})
    page.get_by_role("button", name="Log out").click()
    page.fill("#username", "quinn")
    page.fill("#password", FIRST_PASSWORD)
    page.click("#login-submit")
    browsing.allow(403, r"/admin$")
    browsing.goto("/admin")
    expect(page.locator("#error-title")).to_have_text("Forbidden")
    expect(page.locator("#error-message")).to_contain_text("quinn is a viewer")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Search")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    browsing.shot("forbidden-page")
    icon = page.request.get(server.url + "/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/vnd.microsoft.icon"
    svg = page.get_attribute('link[rel="icon"][type="image/svg+xml"]', "href")
    assert svg and page.request.get(server.url + svg).ok
    browsing.assert_clean()


@pytest.mark.phone
def test_the_users_card_fits_a_phone(browsing: Browsing, server: Server) -> None:
    page = browsing.page
    log_in(browsing, "/admin")
    card = page.locator("#users-card")
    row = user_row(page, "admin")
    row.locator("summary").click()  # the admin's own session, with its long User-Agent
    expect(row.locator(".user-session")).not_to_have_count(0)
    row.get_by_role("button", name="Reset password of admin").click()
    card.scroll_into_view_if_needed()
    browsing.shot("users-on-a-phone")
    overflow = card.evaluate(
        """card => [card, ...card.querySelectorAll('*')]
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5)
            .map(el => el.tagName + '.' + el.className)"""
    )
    assert overflow == [], f"wider than the phone's screen: {overflow}"
    assert card.evaluate("card => card.scrollWidth <= card.clientWidth")
    small = card.evaluate(
        """card => [...card.querySelectorAll('button, summary, input, select')]
            .filter(el => el.offsetParent && el.getBoundingClientRect().height < 44)
            .map(el => el.tagName + ' ' + (el.getAttribute('aria-label') || el.textContent))"""
    )
    assert small == [], f"touch targets under 44 px: {small}"
    browsing.assert_clean()
