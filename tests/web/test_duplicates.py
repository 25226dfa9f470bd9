"""Near-duplicates on the web: the API, the page, "not duplicates" marks, and search results
folded by group and re-ranked by picture. The shared site (eight distinct photos) is used as it
is and its marks removed again; groups are looked for in a `pixseek serve` of its own whose
library holds copies."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pixseek.photos.identity import file_sha256, point_id
from pixseek.quality.marks import DistinctMarks
from pixseek.store.users import UserStore
from tests.conftest import sqlite_store
from tests.integration.services import (
    indexed_rows,
    pixseek_env,
    served_url,
    start_pixseek,
    stop,
    wait_for,
)
from tests.web.conftest import (
    ADMIN_PASSWORD,
    PICTURE_SIZE,
    SECRET_KEY,
    Site,
    Visitor,
    assert_error,
    tags,
)
from tests.web.photos import write_jpegs


def site_ids(site: Site) -> list[str]:
    return [point_id(file_sha256(p)) for p in site.library]


def test_the_duplicates_page_is_for_viewers_and_loads_its_script(
    site: Site, viewer: Visitor, nobody: Visitor
) -> None:
    answer = viewer.get("/duplicates")
    assert answer.status_code == 200, answer.text
    scripts = [s["src"] for s in tags(answer.text, "script") if s.get("src")]
    assert any(str(src).startswith("/static/duplicates.js") for src in scripts), scripts
    assert viewer.get("/static/duplicates.js").status_code == 200
    assert tags(answer.text, "a", href="/duplicates"), "the navigation links the page"
    assert nobody.get("/duplicates").status_code == 302


def test_eight_distinct_photos_form_no_group(site: Site, viewer: Visitor) -> None:
    answer = viewer.get("/api/v1/duplicates")
    assert answer.status_code == 200, answer.text
    assert answer.json["groups"] == [] and answer.json["photos"] == 0
    assert answer.json["thresholds"]["phash"] >= 0


def test_search_results_say_which_duplicates_they_fold(site: Site, viewer: Visitor) -> None:
    answer = viewer.post("/api/v1/search", json={"query": "a photo", "limit": 8})
    assert answer.status_code == 200, answer.text
    assert len(answer.json["results"]) == 8
    assert all(r["similar"] == [] for r in answer.json["results"])


def test_marking_not_duplicates_needs_an_admin_and_two_photos(
    site: Site, viewer: Visitor, admin: Visitor
) -> None:
    ids = site_ids(site)[:2]
    assert_error(viewer.post("/api/v1/duplicates/distinct", json={"ids": ids}), 403)
    assert_error(admin.post("/api/v1/duplicates/distinct", json={"ids": ids[:1]}), 422, "ids")
    assert_error(admin.post("/api/v1/duplicates/distinct", json={"ids": "x"}), 422, "ids")


def test_not_duplicates_marks_persist_in_the_store(site: Site, admin: Visitor) -> None:
    ids = site_ids(site)[:3]
    database = sqlite_store(site.settings.data_dir)  # another process, or this one restarted
    try:
        first = admin.post("/api/v1/duplicates/distinct", json={"ids": ids})
        assert first.status_code == 200 and first.json == {"marked": 3}, first.text
        again = admin.post("/api/v1/duplicates/distinct", json={"ids": [*ids, "not-a-photo"]})
        assert again.json == {"marked": 0}
        reopened = DistinctMarks(database)
        assert reopened.distinct(ids[2], ids[0]) and not reopened.distinct(ids[0], "x")
    finally:
        database.execute("DELETE FROM distinct_pairs")  # the shared site as it was
        database.close()


# ---------------------------------------------------------------- a library with copies


@dataclass(frozen=True)
class Served:
    url: str
    token: str
    library: Path
    photos: list[Path]

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url.rstrip("/") + path, data=data, method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("duplicates")
    photos = write_jpegs(root / "library", range(6), PICTURE_SIZE)
    with Image.open(photos[0]) as image:
        image.resize((240, 180)).save(root / "library" / "small.jpg", quality=60)
    with Image.open(photos[1]) as image:
        image.crop((60, 40, 420, 310)).save(root / "library" / "crop.jpg", quality=90)
    database = sqlite_store(root / "data")  # as the schemathesis test makes its token
    users = UserStore(database)
    token = users.create_token(users.set_user("admin", ADMIN_PASSWORD, "admin"), "t", "admin")[1]
    database.close()
    env = pixseek_env(auth="on", secret_key=SECRET_KEY, admin_password=ADMIN_PASSWORD)
    log = root / "serve.log"
    serve = start_pixseek(root / "data", "serve", str(root / "library"), env=env, log=log)
    try:
        url = wait_for(lambda: served_url(log), 120, "serve to listen")
        wait_for(lambda: indexed_rows(root / "data") == 8, 120, "the library indexed")
        yield Served(url, token, root / "library", photos)
    finally:
        stop(serve)


def test_the_api_groups_a_photo_and_its_smaller_copy_keeping_the_larger(served: Served) -> None:
    answer = served.call("GET", "/api/v1/duplicates")
    groups = [{p["filename"] for p in g["photos"]} for g in answer["groups"]]
    assert {"photo000.jpg", "small.jpg"} in groups, groups
    group = next(
        g for g in answer["groups"] if g["keep"] == point_id(file_sha256(served.photos[0]))
    )
    assert group["photos"][0]["filename"] == "photo000.jpg" and group["photos"][0]["bytes"] > 0


def test_search_folds_a_group_into_one_result_unless_asked_for_all(served: Served) -> None:
    body: dict[str, Any] = {"query": "a photo", "limit": 20}
    folded = served.call("POST", "/api/v1/search", body)["results"]
    every = served.call("POST", "/api/v1/search", body | {"collapse": False})["results"]
    assert len(every) == 8 and len(folded) == len(every) - 1
    small = point_id(file_sha256(served.library / "small.jpg"))
    original = point_id(file_sha256(served.photos[0]))
    shown = {r["id"]: r["similar"] for r in folded}
    assert (shown.get(original) == [small]) != (shown.get(small) == [original]), shown


def test_an_image_query_of_a_crop_ranks_its_original_next_when_reranked(served: Served) -> None:
    crop = base64.b64encode((served.library / "crop.jpg").read_bytes()).decode()
    body = {"images": [{"data": crop}], "limit": 3, "collapse": False}
    reranked = served.call("POST", "/api/v1/search", body)["results"]
    assert [r["filename"] for r in reranked[:2]] == ["crop.jpg", "photo001.jpg"], reranked
    plain = served.call("POST", "/api/v1/search", body | {"rerank": False, "limit": 8})["results"]
    assert [r["filename"] for r in plain].index("photo001.jpg") >= 1
