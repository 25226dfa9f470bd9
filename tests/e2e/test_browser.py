"""The web app in a real browser: log in, upload, search, more like this, detail, reindex."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD, LIBRARY_PHOTOS, TIMEOUT_MS, Browsing, Server
from tests.web.photos import camera_of

pytestmark = pytest.mark.browser

# The photo id of each result: its own data-id, else the id in its thumbnail's URL.
RESULT_IDS_JS = """() => [...document.querySelectorAll('#results .result')].map(r => {
    if (r.dataset.id) return r.dataset.id;
    const img = r.querySelector('img');
    const m = img && img.getAttribute('src').match(/images\\/([^/]+)\\//);
    return m ? m[1] : null;
})"""


def result_ids(page: Page) -> list[str]:
    ids: list[str] = page.evaluate(RESULT_IDS_JS)
    assert ids and all(ids), f"every result should name its photo: {ids}"
    return ids


def log_in(browsing: Browsing, then: str = "/") -> None:
    """Ask for a page, get sent to the login form, and land on the page once logged in."""
    page = browsing.page
    browsing.goto(then)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    browsing.shot("login")
    page.click("#login-submit")
    expect(page).to_have_url(browsing.base + then)
    # the page's module scripts (deferred) have run, so its listeners are there for what follows
    page.wait_for_load_state("domcontentloaded")


def api(browsing: Browsing, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A JSON API call with the page's session and CSRF token, as the page's own scripts do."""
    csrf = browsing.page.get_attribute('meta[name="csrf-token"]', "content") or ""
    answer = browsing.page.request.fetch(
        browsing.base + path, method=method, headers={"X-CSRF-Token": csrf}, data=body
    )
    assert answer.ok, f"{method} {path} -> {answer.status}: {answer.text()}"
    return answer.json()


def upload_photos(browsing: Browsing, server: Server) -> None:
    page = browsing.page
    browsing.goto("/upload")
    page.set_input_files("#upload-input", [str(p) for p in server.uploads])
    rows = page.locator("#upload-list .upload-file")
    expect(rows).to_have_count(len(server.uploads))
    browsing.shot("uploading")
    for row in rows.all():
        expect(row).to_have_attribute("data-state", "done", timeout=TIMEOUT_MS)
    expect(page.locator("#upload-status")).to_contain_text("searchable", timeout=TIMEOUT_MS)
    browsing.shot("uploaded")
    # Searchable indeed: each uploaded picture finds itself first, as a stored upload.
    for path in server.uploads:
        data = base64.b64encode(path.read_bytes()).decode()
        found = api(browsing, "POST", "/api/v1/search", {"images": [{"data": data}], "limit": 1})
        top = found["results"][0]
        assert top["payload"]["source"] == "upload", top
        assert top["score"] > 0.99, top


def search_then_more_like_this(browsing: Browsing) -> list[str]:
    """Search by text, then "more like this" on the second result; the new results' ids."""
    page = browsing.page
    browsing.goto("/")
    page.fill("#search-form #query", "a colourful picture")
    page.press("#search-form #query", "Enter")
    expect(page.locator("#results .result").first).to_be_visible()
    first = result_ids(page)
    assert len(first) == LIBRARY_PHOTOS + 3, "every photo, uploads included, is a result"
    browsing.shot("text-results")

    chosen = page.locator("#results .result").nth(1)
    chosen_id = first[1]
    chosen.hover()
    chosen.locator('button[data-action="more-like-this"]').click()
    page.wait_for_function(
        f"ids => JSON.stringify(({RESULT_IDS_JS})()) !== JSON.stringify(ids)", arg=first
    )
    expect(page.locator("#results .result").first).to_be_visible()
    similar = result_ids(page)
    browsing.shot("more-like-this")
    assert similar != first
    assert chosen_id not in similar, "a photo is left out of its own 'more like this'"
    assert set(similar) == set(first) - {chosen_id}, "every other photo is still a result"
    return similar


def open_detail(browsing: Browsing, photo_id: str) -> None:
    page = browsing.page
    photo = api(browsing, "GET", f"/api/v1/images/{photo_id}")
    result = page.locator("#results .result").first
    result.locator("img").first.click()
    detail = page.locator("#detail")
    expect(detail).to_be_visible()
    expect(detail).to_contain_text(photo["filename"])
    expect(detail).to_contain_text(photo["camera"])
    expect(detail).to_contain_text(f"{photo['width']}")
    preview = detail.locator("img").first
    expect(preview).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=preview.element_handle()
    )
    browsing.shot("detail")


def reindex_all(browsing: Browsing) -> None:
    page = browsing.page
    browsing.goto("/admin")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(re.compile(r"/api/v1/admin/reindex$")) as sent:
        page.click("#reindex-all")
    assert sent.value.status == 202
    job_id = sent.value.json()["job"]["id"]
    job = page.locator(f'#jobs [data-job-id="{job_id}"]')
    expect(job).to_be_visible()
    browsing.shot("reindex-started")
    expect(job).to_have_attribute("data-state", "done", timeout=TIMEOUT_MS)
    bar = job.locator(".job-progress")
    expect(bar).to_have_attribute("max", re.compile(r"^\d+(\.0+)?$"))
    total = float(bar.get_attribute("max") or 0)
    assert total == LIBRARY_PHOTOS + 3, "every photo, uploads included, is embedded again"
    expect(bar).to_have_js_property("value", total)
    expect(job.locator(".job-percent")).to_have_text(re.compile(r"^\s*100\s*%\s*$"))
    browsing.shot("reindex-done")


def test_log_in_upload_search_more_like_this_detail_and_reindex(
    browsing: Browsing, server: Server
) -> None:
    log_in(browsing)
    upload_photos(browsing, server)
    similar = search_then_more_like_this(browsing)
    open_detail(browsing, similar[0])
    reindex_all(browsing)
    browsing.assert_clean()


def test_every_page_loads_without_errors(browsing: Browsing, server: Server) -> None:
    page = browsing.page
    browsing.goto("/login")
    expect(page.locator("#login-submit")).to_be_visible()
    browsing.shot("login")
    log_in(browsing, "/upload")
    in_library = {"folders": [str(server.library[0].parent)]}
    found = api(browsing, "POST", "/api/v1/search", {"query": "x", "filters": in_library})
    photo = found["results"][0]
    for path in ["/", f"/photos/{photo['id']}", "/upload", "/admin", "/duplicates"]:
        browsing.goto(path)
        page.wait_for_load_state("networkidle")
        assert page.get_attribute('meta[name="pixseek-role"]', "content") == "admin"
        assert page.get_attribute('meta[name="pixseek-user"]', "content") == "admin"
        assert page.get_attribute('meta[name="csrf-token"]', "content")
        browsing.shot(path.strip("/").split("/")[0] or "search")
        if path.startswith("/photos/"):
            seed = int(photo["filename"].removeprefix("photo").removesuffix(".jpg"))
            expect(page.locator("body")).to_contain_text(photo["filename"])
            expect(page.locator("body")).to_contain_text(camera_of(seed))
    browsing.assert_clean()


def test_a_wrong_password_is_refused_on_the_login_page(browsing: Browsing, server: Server) -> None:
    page = browsing.page
    browsing.allow(401, r"/login")
    browsing.goto("/login")
    page.fill("#username", "admin")
    page.fill("#password", "not the password")
    page.click("#login-submit")
    expect(page.locator("body")).to_contain_text("Wrong user name or password")
    browsing.shot("refused")
    browsing.goto("/admin")
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)admin"))
    browsing.assert_clean()


def test_the_watch_catches_console_errors_page_errors_and_failed_requests(
    browsing: Browsing,
) -> None:
    """The other tests' `assert_clean` means something only if the watch sees these."""
    page = browsing.page
    browsing.goto("/api/v1/health")
    page.evaluate("console.error('written by the test')")
    page.evaluate("setTimeout(() => { throw new Error('thrown by the test'); })")
    page.evaluate("fetch('/api/v1/images/no-such-photo').then(() => {})")
    expected = ["written by the test", "thrown by the test", "no-such-photo -> 401"]
    for _ in range(100):
        seen = "\n".join(browsing.problems)
        if all(text in seen for text in expected):
            break
        page.wait_for_timeout(50)
    assert all(text in seen for text in expected), browsing.problems
    with pytest.raises(AssertionError, match="the browser saw errors"):
        browsing.assert_clean()
    browsing.problems.clear()


# Give the page an image file the way a drop or a paste does (Playwright has no file drop).
HAND_OVER_JS = """([how, name, data]) => {
    const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type: 'image/jpeg' }));
    const init = { bubbles: true, cancelable: true };
    const drag = type => new DragEvent(type, { ...init, dataTransfer: transfer });
    if (how === 'drop') {
        document.body.dispatchEvent(drag('dragenter'));
        document.body.dispatchEvent(drag('drop'));
    } else {
        document.dispatchEvent(new ClipboardEvent('paste', { ...init, clipboardData: transfer }));
    }
}"""


@dataclass(frozen=True)
class Searched:
    body: dict[str, Any]  # what the page asked for
    results: list[dict[str, Any]]  # what the API answered


def searched_after(page: Page, action: Callable[[], None]) -> Searched:
    """The search the page sends when action runs, once its results are on the grid."""
    with page.expect_response(re.compile(r"/api/v1/search$")) as answer:
        action()
    body: dict[str, Any] = answer.value.request.post_data_json
    results: list[dict[str, Any]] = answer.value.json()["results"]
    expect(page.locator("#results .result")).to_have_count(len(results))
    assert result_ids(page) == [r["id"] for r in results], "the grid shows the answer, in order"
    return Searched(body, results)


def hand_over(page: Page, how: str, photo: Path) -> Searched:
    data = base64.b64encode(photo.read_bytes()).decode()
    return searched_after(page, lambda: page.evaluate(HAND_OVER_JS, [how, photo.name, data]))


def test_search_by_dropped_and_pasted_images_with_filters_sort_and_ratings(
    browsing: Browsing, server: Server
) -> None:
    page = browsing.page
    log_in(browsing)
    dropped, pasted = server.library[3], server.library[6]

    by_drop = hand_over(page, "drop", dropped)
    assert len(by_drop.body["images"]) == 1 and not by_drop.body.get("query")
    assert by_drop.results[0]["filename"] == dropped.name and by_drop.results[0]["score"] > 0.99
    expect(page.locator("#query-images .chip")).to_have_count(1)
    browsing.shot("dropped-image")

    both = hand_over(page, "paste", pasted)
    assert len(both.body["images"]) == 2, "a pasted image joins the dropped one"
    browsing.shot("pasted-image")
    dropped_chip = page.locator("#query-images .chip").first
    away = searched_after(page, lambda: dropped_chip.locator('button[data-chip="flip"]').click())
    assert sorted(image["weight"] for image in away.body["images"]) == [-1, 1]
    assert away.results[-1]["filename"] == dropped.name, "a negative image moves away from it"
    alone = searched_after(page, lambda: dropped_chip.locator('button[data-chip="remove"]').click())
    assert len(alone.body["images"]) == 1
    assert alone.results[0]["filename"] == pasted.name and alone.results[0]["score"] > 0.99

    folder = str(server.library[0].parent)
    page.fill("#filter-folder", folder)
    in_library = searched_after(page, lambda: page.press("#filter-folder", "Enter"))
    assert in_library.body["filters"]["folders"] == [folder]
    assert len(in_library.results) == LIBRARY_PHOTOS
    page.fill("#filter-camera", "x-t3")
    fuji = searched_after(page, lambda: page.press("#filter-camera", "Enter"))
    assert fuji.body["filters"] == {"folders": [folder], "cameras": ["x-t3"]}
    assert {r["camera"] for r in fuji.results} == {camera_of(1)}
    assert len(fuji.results) == LIBRARY_PHOTOS // 2
    browsing.shot("filtered")

    newest = searched_after(page, lambda: page.select_option("#sort", "date_desc"))
    assert newest.body["sort"] == "date_desc" and newest.body["filters"] == fuji.body["filters"]
    dates = [r["taken_at"] for r in newest.results]
    assert dates and dates == sorted(dates, reverse=True)
    expect(page.locator("#cutoff-field")).to_be_visible()
    browsing.shot("sorted-by-date")
    relevance = searched_after(page, lambda: page.select_option("#sort", "relevance"))

    liked, disliked = relevance.results[1]["id"], relevance.results[2]["id"]
    for photo_id, action in ((liked, "like"), (disliked, "dislike")):
        tile = page.locator(f'#results .result[data-id="{photo_id}"]')
        tile.hover()
        tile.locator(f'button[data-action="{action}"]').click()
        expect(tile.locator(f'button[data-action="{action}"]')).to_have_attribute(
            "aria-pressed", "true"
        )
    expect(page.locator("#refine")).to_be_visible()
    refined = searched_after(page, lambda: page.click("#refine-search"))
    assert refined.body["feedback"] == {"liked": [liked], "disliked": [disliked]}
    assert refined.body["filters"] == fuji.body["filters"], "refining keeps the filters"
    refined_ids = {r["id"] for r in refined.results}
    assert refined_ids == {r["id"] for r in fuji.results} - {liked, disliked}
    browsing.shot("refined")
    browsing.assert_clean()


def test_switch_the_model_on_the_admin_page(browsing: Browsing, server: Server) -> None:
    page = browsing.page
    log_in(browsing, "/admin")
    expect(page.locator("#active-model")).to_contain_text("pixseek-tiny")
    page.fill("#model-spec", "pixseek-tiny-b")
    with page.expect_response(re.compile(r"/api/v1/admin/model$")) as sent:
        page.click("#model-switch")
    assert sent.value.status == 202
    job = page.locator(f'#jobs [data-job-id="{sent.value.json()["job"]["id"]}"]')
    expect(job.locator(".job-kind")).to_have_text("Model switch to pixseek-tiny-b")
    browsing.shot("model-switch-started")
    expect(job).to_have_attribute("data-state", "done", timeout=TIMEOUT_MS)
    expect(page.locator("#active-model")).to_have_text("pixseek-tiny-b")
    browsing.shot("model-switch-done")
    assert api(browsing, "POST", "/api/v1/search", {"query": "x"})["model"] == (
        "pixseek-tiny-b--none"
    )
    back = api(browsing, "POST", "/api/v1/admin/model", {"model": "pixseek-tiny"})
    back_job = page.locator(f'#jobs [data-job-id="{back["job"]["id"]}"]')
    expect(back_job).to_have_attribute("data-state", "done", timeout=TIMEOUT_MS)
    browsing.assert_clean()


def test_back_up_on_the_admin_page(browsing: Browsing, server: Server) -> None:
    page = browsing.page
    log_in(browsing, "/admin")
    rows = page.locator("#backups tr.backup")
    expect(page.locator("#backups")).to_have_attribute("aria-busy", "false")  # the list is in
    before = rows.count()
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/admin/backups") and r.request.method == "POST"
    ) as sent:
        page.click("#backup-now")
    assert sent.value.status == 202
    job = page.locator(f'#jobs [data-job-id="{sent.value.json()["job"]["id"]}"]')
    expect(job.locator(".job-kind")).to_have_text("Backup")
    expect(job).to_have_attribute("data-state", "done", timeout=TIMEOUT_MS)
    expect(rows).to_have_count(before + 1)  # the list reloads when the job ends
    expect(rows.first.locator("td").first).to_have_text(re.compile(r"^pixseek-backup-\d{8}T"))
    expect(page.locator("#backups-note code").first).to_contain_text("backups")
    browsing.shot("backup-done")
    browsing.assert_clean()
