"""The search page while a library fills (issue 14): an empty library says so, indexing shows
its progress, and new photos are offered with a refresh. This module's server starts empty."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import TIMEOUT_MS, Browsing, Server, serving
from tests.e2e.test_browser import api, log_in, result_ids
from tests.web.photos import write_jpegs

pytestmark = pytest.mark.browser


def show_tab_again(page: Page) -> None:
    """What the browser tells a page whose tab comes back to the front (headless Chromium keeps
    every tab visible, so it never says so itself)."""
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")


NEW_PHOTOS = 150  # enough that indexing them outlasts the first look at the job list


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("e2e-empty"), 0) as started:
        yield started


def test_an_empty_library_says_so_then_indexing_shows_progress_and_offers_new_photos(
    browsing: Browsing, server: Server
) -> None:
    page = browsing.page
    log_in(browsing)
    page.fill("#search-form #query", "a dog on the beach")
    page.press("#search-form #query", "Enter")
    empty = page.locator("#results-empty")
    expect(empty).to_contain_text("Your library has no photos yet")
    expect(empty).not_to_contain_text("No photos match")
    browsing.shot("empty-library")

    library = server.library[0].parent if server.library else server.data_dir.parent / "library"
    write_jpegs(library, range(200, 200 + NEW_PHOTOS), size=(640, 480))
    api(browsing, "POST", "/api/v1/admin/rescan", {})
    show_tab_again(page)  # the page looks at the jobs at once instead of in up to 10 s
    note = page.locator("#indexing")
    expect(note).to_have_attribute("data-state", "running", timeout=TIMEOUT_MS)
    expect(note).to_contain_text(re.compile(rf"Indexing \d+ of {NEW_PHOTOS}"))
    browsing.shot("indexing")

    expect(note).to_have_attribute("data-state", "new-photos", timeout=TIMEOUT_MS * 3)
    expect(note).to_contain_text(f"{NEW_PHOTOS} new photos indexed since these results")
    browsing.shot("new-photos")
    page.click("#indexing-refresh")
    expect(page.locator("#results .result").first).to_be_visible()
    assert len(result_ids(page)) == 48, "a first page of the new photos"
    expect(note).to_be_hidden()
    expect(empty).to_be_hidden()
    browsing.shot("refreshed")
    browsing.assert_clean()
