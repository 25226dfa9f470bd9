"""A real `pixseek serve` given small files that decode to huge pictures (a 13000x13000 PNG is
half a megabyte on disk and 676 MB decoded): eight requests at once must not take it past its
decode budget, and the memory comes back afterwards."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from pixseek.store.users import UserStore
from tests.conftest import sqlite_store
from tests.imagegen import write_huge_flat_png
from tests.integration.services import (
    indexed_rows,
    pixseek_env,
    served_url,
    start_pixseek,
    stop,
    wait_for,
)

SIDE = 13_000
COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
MIB = 1024 * 1024
# One such picture decodes to 676 MB: the budget lets one decode run at a time.
BUDGET_MB = 800
# What else a request holds (the encoded answer, Python objects, allocator slack).
SLACK_MB = 250
ADMIN_PASSWORD = "memory test admin password"
SECRET_KEY = "memory-test-secret-key-0123456789abcdef"


def status_kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split(f"{field}:")[1].split()[0])


def reset_peak(pid: int) -> None:
    """Start VmHWM (the peak resident size) again from the current size (Linux >= 4.0)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def test_eight_huge_pictures_at_once_stay_within_the_decode_budget(tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    for number, colour in enumerate(COLOURS):
        write_huge_flat_png(library / f"huge-{number}.png", SIDE, colour)
    data = tmp_path / "data"
    database = sqlite_store(data)
    users = UserStore(database)
    admin = users.set_user("admin", ADMIN_PASSWORD, "admin")
    token = users.create_token(admin, "memory test", "viewer")[1]
    database.close()
    env = pixseek_env(
        auth="on", secret_key=SECRET_KEY, admin_password=ADMIN_PASSWORD,
        decode_memory_mb=str(BUDGET_MB),
    )  # fmt: skip
    log = tmp_path / "serve.log"
    serve = start_pixseek(data, "serve", str(library), env=env, log=log)
    try:
        url = wait_for(lambda: served_url(log), 120, "serve to listen")
        wait_for(lambda: indexed_rows(data) == len(COLOURS), 300, "the huge pictures indexed")
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
        photos = photo_ids(client)
        baseline = status_kib(serve.pid, "VmRSS")
        reset_peak(serve.pid)

        query = base64.b64encode((library / "huge-0.png").read_bytes()).decode()
        with ThreadPoolExecutor(16) as pool:
            previews = [pool.submit(preview, client, photos[i % len(photos)]) for i in range(8)]
            searches = [pool.submit(search_by_image, client, query) for _ in range(8)]
            preview_answers = [p.result() for p in previews]
            search_answers = [s.result() for s in searches]

        assert all(a.status_code == 200 for a in preview_answers), preview_answers
        assert {a.headers["content-type"] for a in preview_answers} == {"image/webp"}
        for answer in search_answers:
            assert answer.status_code == 422, answer.text
            assert "169.0 MP" in answer.json()["error"]["message"]
        peak_mb = (status_kib(serve.pid, "VmHWM") - baseline) / 1024
        print(f"peak above the idle server: {peak_mb:.0f} MB (budget {BUDGET_MB} MB)")
        assert peak_mb < BUDGET_MB + SLACK_MB
        back_mb = (status_kib(serve.pid, "VmRSS") - baseline) / 1024
        print(f"held afterwards: {back_mb:.0f} MB")
        assert back_mb < SLACK_MB, "the decodes' memory is given back"
    finally:
        stop(serve)
    assert serve.returncode == 0, log.read_text()


def photo_ids(client: httpx.Client) -> list[str]:
    # collapse off: flat pictures share one perceptual hash, so they fold as near-duplicates
    body = {"query": "a colour", "limit": 10, "collapse": False}
    answer = client.post("/api/v1/search", json=body)
    assert answer.status_code == 200, answer.text
    ids = [result["id"] for result in answer.json()["results"]]
    assert len(ids) == len(COLOURS)
    return ids


def preview(client: httpx.Client, photo_id: str) -> httpx.Response:
    return client.get(f"/api/v1/images/{photo_id}/thumbnail?size=preview", timeout=300)


def search_by_image(client: httpx.Client, data: str) -> httpx.Response:
    return client.post("/api/v1/search", json={"images": [{"data": data}]}, timeout=300)
