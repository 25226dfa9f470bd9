"""The search page as a new user meets it (issue 14): broken query images, date sorts and their
cutoff, "more like this", the photo viewer, the keyboard in the grid, and a phone's screen.

One server (this module's) serves every test here; axe-core checks each screenshot's state."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LIBRARY_PHOTOS, Browsing, Server
from tests.e2e.test_browser import HAND_OVER_JS, api, log_in, result_ids, searched_after
from tests.imagegen import textured_rgb, write_image
from tests.web.photos import taken_in_tokyo

pytestmark = pytest.mark.browser

QUERY = "a colourful picture"
# Any extra horizontal scroll on the page, in CSS pixels.
OVERFLOW_JS = "() => document.documentElement.scrollWidth - window.innerWidth"


def search_for(browsing: Browsing, text: str = QUERY) -> list[str]:
    page = browsing.page
    page.fill("#search-form #query", text)
    searched_after(page, lambda: page.press("#search-form #query", "Enter"))
    return result_ids(page)


def address(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def hand_over_bytes(page: Page, name: str, data: bytes) -> None:
    page.evaluate(HAND_OVER_JS, ["drop", name, base64.b64encode(data).decode()])


def test_a_broken_query_image_is_refused_by_name_and_never_blocks_a_search(
    browsing: Browsing, server: Server
) -> None:
    page = browsing.page
    browsing.allow(422, r"/api/v1/search$")  # the server is asked about what Chromium can't read
    log_in(browsing)
    hand_over_bytes(page, "holiday-broken.jpg", b"\xff\xd8\xff\xe0 not a JPEG after all" * 40)
    refusal = page.locator(".toast-error", has_text="holiday-broken.jpg")
    expect(refusal).to_contain_text("cannot be searched by")
    expect(page.locator("#query-images .chip")).to_have_count(0)
    browsing.shot("broken-image-refused")

    good = server.library[4]
    found = searched_after(
        page, lambda: hand_over_bytes(page, good.name, good.read_bytes())
    ).results
    assert found[0]["filename"] == good.name, "the next image searches as if nothing happened"
    expect(page.locator("#query-images .chip")).to_have_count(1)
    assert search_for(browsing), "and so does a text search"
    browsing.assert_clean()


def test_a_date_sort_says_what_its_cutoff_hides_in_plain_words_and_can_show_all(
    browsing: Browsing, server: Server
) -> None:
    page = browsing.page
    log_in(browsing)
    everything = search_for(browsing)
    assert len(everything) == LIBRARY_PHOTOS
    page.evaluate("() => { document.getElementById('cutoff').value = '1'; }")
    newest = searched_after(page, lambda: page.select_option("#sort", "date_desc"))
    assert newest.body["cutoff"] == 1 and len(newest.results) == 1, "only the best is as good"
    hidden = LIBRARY_PHOTOS - 1
    expect(page.locator("#cutoff-note")).to_contain_text(
        f"{hidden} less relevant photos are hidden by the relevance cutoff"
    )
    expect(page.locator("#cutoff-help")).to_contain_text(
        "only photos matching at least 100 % as well as the best one are shown"
    )
    expect(page.locator("#cutoff-value")).to_have_text("100 % as good as the best")
    browsing.shot("date-sort-hides")

    every = searched_after(page, lambda: page.click("#show-all"))
    assert every.body["cutoff"] == 0 and every.body["sort"] == "date_desc"
    assert len(every.results) == LIBRARY_PHOTOS, "show all: not one photo left out"
    dates = [r["taken_at"] for r in every.results]
    assert dates == sorted(dates, reverse=True)
    expect(page.locator("#cutoff-note")).to_be_hidden()
    expect(page.locator("#cutoff-value")).to_have_text("every match")
    browsing.shot("date-sort-shows-all")
    browsing.assert_clean()


def test_more_like_this_searches_by_the_photo_alone_or_combined_with_the_query(
    browsing: Browsing, server: Server
) -> None:
    page = browsing.page
    log_in(browsing)
    ids = search_for(browsing)
    rated = page.locator(f'#results .result[data-id="{ids[0]}"]')
    rated.hover()
    rated.locator('button[data-action="like"]').click()

    page.locator(f'#results .result[data-id="{ids[1]}"] .thumb').click()
    expect(page.locator("#detail")).to_be_visible()
    browsing.shot("viewer-offers-combine")
    combined = searched_after(
        page, lambda: page.click('#detail-actions button[data-action="combine"]')
    )
    assert combined.body["query"] == QUERY, "combining keeps the words"
    assert combined.body["photos"] == [{"id": ids[1], "weight": 1}]
    expect(page.locator("#refine")).to_be_visible()  # and the ratings

    chosen = combined.results[2]["id"]
    tile = page.locator(f'#results .result[data-id="{chosen}"]')
    tile.hover()
    alone = searched_after(
        page, lambda: tile.locator('button[data-action="more-like-this"]').click()
    )
    assert alone.body["photos"] == [{"id": chosen, "weight": 1}]
    assert "query" not in alone.body and "feedback" not in alone.body and "images" not in alone.body
    expect(page.locator("#query")).to_have_value("")
    expect(page.locator("#refine")).to_be_hidden()
    assert {r["id"] for r in alone.results} == set(ids) - {chosen}
    browsing.shot("more-like-this-alone")
    browsing.assert_clean()


def test_the_grid_is_one_tab_stop_with_arrow_keys_inside(
    browsing: Browsing, server: Server
) -> None:
    page = browsing.page
    log_in(browsing)
    ids = search_for(browsing)
    page.focus("#query")
    in_grid = "() => Boolean(document.activeElement.closest('#results'))"
    presses = 0
    while not page.evaluate(in_grid):
        page.keyboard.press("Tab")
        presses += 1
        assert presses < 40, "Tab never reaches the results"
    focused_id = "() => document.activeElement.closest('.result')?.dataset.id"
    assert page.evaluate(focused_id) == ids[0], "the grid's tab stop is its first photo"
    page.keyboard.press("Tab")
    assert not page.evaluate(in_grid), "one Tab leaves the grid: its tiles are one tab stop"

    page.keyboard.press("Shift+Tab")
    assert page.evaluate(focused_id) == ids[0]
    page.keyboard.press("ArrowRight")
    assert page.evaluate(focused_id) == ids[1]
    columns = page.evaluate(
        "() => { const t = [...document.querySelectorAll('#results .result')];"
        " return t.filter(x => x.offsetTop === t[0].offsetTop).length; }"
    )
    assert 1 < columns < len(ids)
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused_id) == ids[1 + columns]
    page.keyboard.press("End")
    assert page.evaluate(focused_id) == ids[-1]
    page.keyboard.press("Home")
    browsing.shot("grid-focus")
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(focused_id) == ids[0], "Tab back in lands where the arrows left off"

    page.keyboard.press("Enter")
    expect(page.locator("#detail")).to_be_visible()
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(re.compile(f"photo={ids[1]}"))
    page.keyboard.press("ArrowLeft")
    expect(page).to_have_url(re.compile(f"photo={ids[0]}"))
    page.keyboard.press("Escape")
    expect(page.locator("#detail")).to_be_hidden()
    assert page.evaluate(focused_id) == ids[0], "closing returns to the photo's tile"
    browsing.assert_clean()


def swipe(page: Page, from_x: float, to_x: float, y: float) -> None:
    """A real one-finger swipe, through the DevTools protocol's touch input."""
    session = page.context.new_cdp_session(page)
    steps = [from_x + (to_x - from_x) * i / 8 for i in range(9)]
    session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [
        {"x": steps[0], "y": y}]})  # fmt: skip
    for x in steps[1:]:
        session.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [
            {"x": x, "y": y}]})  # fmt: skip
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()


@pytest.mark.phone
def test_the_viewer_has_its_own_address_back_closes_it_and_a_swipe_moves_on(
    browsing: Browsing, server: Server
) -> None:
    page = browsing.page
    log_in(browsing)
    ids = search_for(browsing)
    searches: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: searches.append(r.post_data_json) if r.url.endswith("/api/v1/search") else None,
    )
    page.locator("#results .result .thumb").first.tap()
    detail = page.locator("#detail")
    expect(detail).to_be_visible()
    assert address(page)["photo"] == [ids[0]] and address(page)["q"] == [QUERY]
    browsing.shot("viewer-phone")

    figure = page.locator("#detail-figure").bounding_box()
    assert figure is not None
    middle_y = figure["y"] + figure["height"] / 2
    swipe(page, figure["x"] + figure["width"] * 0.8, figure["x"] + figure["width"] * 0.2, middle_y)
    expect(page).to_have_url(re.compile(f"photo={ids[1]}"))
    expect(page.locator("#detail-position")).to_have_text(f"2 of {len(ids)}")
    swipe(page, figure["x"] + figure["width"] * 0.2, figure["x"] + figure["width"] * 0.8, middle_y)
    expect(page).to_have_url(re.compile(f"photo={ids[0]}"))
    shared = page.url

    searches.clear()
    page.go_back()
    expect(detail).to_be_hidden()
    assert "photo" not in address(page) and address(page)["q"] == [QUERY], "Back: the search"
    assert result_ids(page) == ids
    assert not [s for s in searches if s.get("query")], "Back closes it without searching again"
    browsing.shot("back-closes-viewer")

    page.go_forward()
    expect(detail).to_be_visible()
    expect(page.locator("#detail-position")).to_have_text(f"1 of {len(ids)}")

    other = page.context.new_page()
    other.goto(shared)
    expect(other.locator("#detail")).to_be_visible()
    expect(other.locator("#detail-title")).to_have_text(
        api(browsing, "GET", f"/api/v1/images/{ids[0]}")["filename"]
    )
    other.close()
    browsing.assert_clean()


def overflow_of(page: Page) -> int:
    return int(page.evaluate(OVERFLOW_JS))


# Visible controls a finger presses, with their size: a checkbox counts with its label.
TARGETS_JS = """() => [...document.querySelectorAll(
    'button, a.btn, .site-nav a, .brand, select, input:not([type=hidden])')].filter(el => {
        const box = el.getBoundingClientRect();
        const seen = getComputedStyle(el).visibility !== 'hidden';
        return box.width > 0 && box.height > 0 && seen && !el.closest('[hidden], .visually-hidden');
    }).map(el => {
        const label = el.type === 'checkbox' && document.querySelector(`label[for="${el.id}"]`);
        const box = (label || el).getBoundingClientRect();
        const name = el.id || el.getAttribute('aria-label') || el.textContent.trim().slice(0, 30);
        return { name: `${el.tagName} ${name}`, width: box.width, height: box.height };
    })"""


@pytest.mark.phone
def test_on_a_phone_the_header_is_one_row_results_start_high_and_nothing_overflows(
    browsing: Browsing, server: Server
) -> None:
    page = browsing.page
    log_in(browsing)
    ids = search_for(browsing)
    header = page.locator(".site-header").bounding_box()
    assert header is not None and header["height"] <= 60, f"the header is one row: {header}"
    nav = page.locator(".site-nav").bounding_box()
    assert nav is not None
    for link in page.locator(".site-nav a").all():
        box = link.bounding_box()
        assert box is not None and box["x"] + box["width"] <= nav["x"] + nav["width"] + 0.5, (
            f"the link {link.text_content()} shows whole: {box} in {nav}"
        )
    expect(page.locator("#query-hint")).to_be_hidden()
    first = page.locator("#results .result").first.bounding_box()
    assert first is not None and first["y"] <= 260, f"results start high: {first['y']} px"
    small = [t for t in page.evaluate(TARGETS_JS) if t["width"] < 44 or t["height"] < 44]
    assert not small, f"touch targets under 44 px: {small}"
    assert overflow_of(page) <= 0
    browsing.shot("phone-search")

    page.click("#filters-toggle")
    expect(page.locator("#filters")).to_be_visible()
    small = [t for t in page.evaluate(TARGETS_JS) if t["width"] < 44 or t["height"] < 44]
    assert not small, f"touch targets under 44 px with the filters open: {small}"
    assert overflow_of(page) <= 0
    browsing.shot("phone-filters")

    api(browsing, "POST", "/api/v1/admin/backups", {})
    for path in ["/upload", "/admin", "/duplicates", f"/photos/{ids[0]}", f"/?photo={ids[0]}"]:
        browsing.goto(path)
        page.wait_for_load_state("networkidle")
        if path == "/admin":
            expect(page.locator("#backups tr.backup").first).to_be_visible()
        assert overflow_of(page) <= 0, f"{path} scrolls sideways by {overflow_of(page)} px"
        browsing.shot("phone-" + (path.strip("/").split("/")[0].split("?")[0] or "viewer"))
    browsing.assert_clean()


# Give the upload page a file as a file picker does, with the time the file was last changed.
PICK_FILE_JS = """([name, data, modified]) => {
    const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type: 'image/png', lastModified: modified }));
    const input = document.getElementById('upload-input');
    input.files = transfer.files;
    input.dispatchEvent(new Event('change', { bubbles: true }));
}"""


def test_an_upload_keeps_its_name_and_its_files_time_when_it_has_no_date(
    browsing: Browsing, server: Server, tmp_path: Path
) -> None:
    """Last in this module: the upload joins the library the tests above count."""
    page = browsing.page
    log_in(browsing, "/upload")
    picture = write_image(tmp_path / "new_0.png", textured_rgb(77, (200, 150)))  # no EXIF
    modified_ms = 1_561_000_000_000  # 20 June 2019
    data = base64.b64encode(picture.read_bytes()).decode()
    with page.expect_response(re.compile(r"/api/v1/uploads$")) as sent:
        page.evaluate(PICK_FILE_JS, ["new_0.png", data, modified_ms])
    photo_id = sent.value.json()["files"][0]["id"]
    expect(page.locator("#upload-list .upload-file")).to_have_attribute("data-state", "done")
    expect(page.locator("#upload-list")).to_contain_text("new_0.png")
    browsing.shot("uploaded-with-its-name")

    browsing.goto(f"/?photo={photo_id}")
    detail = page.locator("#detail")
    expect(detail).to_be_visible()
    expect(page.locator("#detail-title")).to_have_text("new_0.png")
    combine = page.locator('#detail-actions button[data-action="combine"]')
    expect(combine).to_be_hidden()  # no search on screen to combine with
    expect(page.locator("#detail-actions")).not_to_contain_text("null")
    taken = datetime.fromtimestamp(modified_ms / 1000)
    expect(page.locator("#detail-meta")).to_contain_text(str(taken.year))
    expect(page.locator("#detail-meta")).to_contain_text("file modified time")
    download = page.locator('#detail-actions a[download="new_0.png"]')
    with page.expect_download() as saving:
        download.click()
    assert saving.value.suggested_filename == "new_0.png", "it downloads under its name"
    browsing.shot("upload-in-viewer")
    page.click('#detail-actions button[data-action="more-like-this"]')
    expect(page.locator('#query-images .chip[data-kind="photo"]')).to_contain_text("new_0.png")
    browsing.assert_clean()


def browsed_after(page: Page, action: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The timeline page the search page asks for when action runs, once it is on the grid."""
    with page.expect_response(re.compile(r"/api/v1/timeline$")) as answer:
        action()
    results: list[dict[str, Any]] = answer.value.json()["results"]
    expect(page.locator("#results .result")).to_have_count(len(results))
    return answer.value.request.post_data_json, results


def test_an_empty_box_and_a_camera_offered_by_the_filter_show_its_photos_by_date(
    browsing: Browsing, server: Server
) -> None:
    page = browsing.page
    log_in(browsing)
    camera = page.locator("#filter-camera")
    camera.press_sequentially("x-t")
    offered = page.locator("#filter-camera-offers [role=option]")
    expect(offered).to_have_count(1)
    fujifilm = LIBRARY_PHOTOS // 2
    expect(offered).to_contain_text(f"FUJIFILM X-T3{fujifilm}")
    expect(camera).to_have_attribute("aria-expanded", "true")
    browsing.shot("camera-offered")
    camera.press("ArrowDown")
    expect(offered).to_have_attribute("aria-selected", "true")
    body, newest = browsed_after(page, lambda: camera.press("Enter"))
    expect(camera).to_have_value("FUJIFILM X-T3")
    assert body["filters"] == {"cameras": ["FUJIFILM X-T3"]} and body["order"] == "newest"
    assert len(newest) == fujifilm and {r["camera"] for r in newest} == {"FUJIFILM X-T3"}
    dates = [r["taken_at"] for r in newest]
    assert dates == sorted(dates, reverse=True)
    head = page.locator("#results .month-head")
    expect(head).to_have_count(1)
    expect(head.locator("h2")).to_have_text("June 2021")
    expect(head).to_contain_text(f"{fujifilm} photos")
    expect(page.locator("#results-info")).to_contain_text("by date · newest first")
    expect(page.locator("#welcome")).to_be_hidden()
    expect(page.locator("#sort")).to_be_hidden()
    browsing.shot("timeline-of-a-camera")

    body, oldest = browsed_after(page, lambda: page.check("#oldest"))
    assert body["order"] == "oldest" and [r["taken_at"] for r in oldest] == dates[::-1]
    assert address(page)["order"] == ["oldest"] and address(page)["camera"] == ["FUJIFILM X-T3"]
    folder = page.locator("#filter-folder")
    folder.press_sequentially(server.library[0].parent.name[:3])
    named = page.locator("#filter-folder-offers [role=option]").first
    expect(named).to_have_text(f"{server.library[0].parent.name}{fujifilm}")
    browsing.shot("folder-offered-by-name")
    browsing.assert_clean()


def test_a_file_name_or_a_place_in_the_box_finds_those_photos_first_and_the_tile_says_so(
    browsing: Browsing, server: Server
) -> None:
    page = browsing.page
    log_in(browsing)
    wanted = server.library[5]
    search_for(browsing, wanted.stem)  # "photo005": the tiny model's pictures say nothing
    first = page.locator("#results .result").first
    expect(first.locator("img")).to_have_attribute("alt", re.compile(re.escape(wanted.name)))
    expect(first.locator(".matched")).to_have_text("name")
    expect(first.locator(".matched")).to_have_attribute("title", re.compile("Matched: name"))
    # the others share only "photo" with the query: their names are no match worth a word
    expect(page.locator("#results .result .matched")).to_have_count(1)
    browsing.shot("a-file-name-found-first")
    # a place name: the photos taken there (GPS named offline at ingest) come first, saying so
    search_for(browsing, "tokyo")
    in_tokyo = [p.name for seed, p in enumerate(server.library) if taken_in_tokyo(seed)]
    tiles = page.locator("#results .result")
    expect(page.locator("#results .result .matched")).to_have_count(len(in_tokyo))
    for position in range(len(in_tokyo)):
        tile = tiles.nth(position)
        expect(tile.locator(".matched")).to_have_text("place")
        alt = tile.locator("img").get_attribute("alt") or ""
        assert any(name in alt for name in in_tokyo), alt
    browsing.shot("a-place-name-found-first")
    browsing.assert_clean()
