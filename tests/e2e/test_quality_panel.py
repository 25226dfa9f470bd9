"""The admin page's Quality panel in a real browser: a tiny eval started from its form, its
progress, then the table of configurations and the Recall@K curves."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import TIMEOUT_MS, Browsing, Server
from tests.e2e.test_browser import log_in

pytestmark = pytest.mark.browser


def test_run_a_tiny_eval_from_the_quality_panel(browsing: Browsing, server: Server) -> None:
    page = browsing.page
    log_in(browsing, "/admin")
    expect(page.locator("#eval-report")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#eval-report")).to_contain_text("No eval has run yet")
    page.fill("#eval-copies", "4")
    page.fill("#eval-distractors", "4")
    page.click("#quality summary")  # the configurations: one HNSW ef, no quantization, fp32
    page.fill("#eval-ef", "16")
    for box in page.locator('#eval-form input[name="quantization"]').all():
        box.uncheck()
    page.uncheck("#eval-int8")
    browsing.shot("eval-form")
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/eval") and r.request.method == "POST"
    ) as sent:
        page.click("#eval-start")
    assert sent.value.status == 202
    body = sent.value.request.post_data_json
    assert body | {"seed": 0} == {
        "copies": 4, "distractors": 4, "seed": 0, "ef": [16], "quantizations": ["none"],
        "precisions": ["fp32"], "rerank": True,
    }  # fmt: skip
    job = page.locator(f'#jobs [data-job-id="{sent.value.json()["job"]["id"]}"]')
    expect(job.locator(".job-kind")).to_have_text("Eval on 4 photos")
    expect(job).to_have_attribute("data-state", "done", timeout=TIMEOUT_MS * 3)

    rows = page.locator("#eval-report tr.eval-row")
    expect(rows).to_have_count(3, timeout=TIMEOUT_MS)  # exact, HNSW ef=16, exact + re-ranking
    expect(rows.nth(1).locator("th")).to_contain_text("hnsw ef=16")
    expect(rows.nth(2).locator("th")).to_contain_text("+rerank")
    expect(rows.first.locator("td").first).to_have_text(re.compile(r"^[01]\.\d{3}$"))
    expect(page.locator("#eval-report")).to_contain_text("44 queries among 48 pictures")
    plot = page.locator("#eval-report img.eval-plot")
    expect(plot).to_be_visible()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 300", plot.element_handle())
    expect(page.locator("#eval-progress")).to_be_hidden()
    expect(page.locator("#eval-start")).to_be_enabled()
    browsing.shot("eval-report")
    browsing.assert_clean()
