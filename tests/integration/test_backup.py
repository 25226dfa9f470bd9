"""`pixseek backup` and `pixseek restore`, run as commands on a library of real image files:
what is restored answers searches exactly as the original did."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from embed import Embedder
from pixseek.index.base import SearchFilters
from pixseek.jobs.stores import open_job_store
from pixseek.library import Library
from pixseek.ops.backup import MANIFEST, list_backups, prune
from pixseek.search.search import QueryTerm, SearchRequest, search
from pixseek.settings import Settings, load_settings
from pixseek.store.lock import DataDirLock
from pixseek.store.users import UserStore
from tests.conftest import TINY_MODEL, sqlite_store
from tests.imagegen import textured_rgb, write_image
from tests.integration.library import GeneratedLibrary, generate_library
from tests.integration.test_cli import as_json, pixseek
from workers.embedded import EmbeddedRuntime


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> GeneratedLibrary:
    return generate_library(tmp_path_factory.mktemp("library"), count=45)


@pytest.fixture(scope="module")
def original(library: GeneratedLibrary, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with indexed photos, an uploaded photo and a user."""
    data_dir = tmp_path_factory.mktemp("original")
    upload = data_dir / "uploads" / "up.jpg"
    write_image(upload, textured_rgb(901, (80, 60)))
    sha = hashlib.sha256(upload.read_bytes()).hexdigest()
    stored = upload.with_name(f"{sha}.jpg")
    upload.rename(stored)
    as_json(pixseek(data_dir, "index", str(library.root), str(data_dir / "uploads"), "--json"))
    database = sqlite_store(data_dir)
    UserStore(database).set_user("alice", "correct horse", "viewer")
    database.close()
    return data_dir


@pytest.fixture(scope="module")
def backup(original: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    made: dict[str, Any] = as_json(
        pixseek(original, "backup", str(tmp_path_factory.mktemp("backups")), "--json")
    )
    return made


def searches(data_dir: Path, library: GeneratedLibrary, model: Embedder) -> list[Any]:
    """A text search and two image searches (one filtered), as (path, score) lists."""
    settings = load_settings(data_dir=data_dir, model=TINY_MODEL, device="cpu")
    requests = [
        [QueryTerm("text", "a red square")],
        [QueryTerm("image", library.photos[3].path)],
        [QueryTerm("image", library.photos[30].path)],
    ]
    png = SearchFilters(formats=("png",))
    with Library(settings) as opened:
        opened.use_embedder(model)
        return [
            [
                (r.path, round(r.score, 5))
                for r in search(SearchRequest(tuple(terms), filters), model, opened.index)
            ]
            for terms, filters in zip(
                requests, [SearchFilters(), SearchFilters(), png], strict=True
            )
        ]


def test_a_backup_holds_the_catalog_users_uploads_and_index(
    backup: dict[str, Any], library: GeneratedLibrary
) -> None:
    folder = Path(backup["path"])
    assert folder.name.startswith("pixseek-backup-")
    assert backup["photos"] == len(library.photos) + 1  # with the upload
    assert backup["points"] == backup["photos"]
    manifest = json.loads((folder / MANIFEST).read_text())
    files = set(manifest["files"])
    assert {"data/catalog.sqlite3", "index/edge_config.json"} <= files  # users: in the store
    assert "data/users.sqlite3" not in files
    assert any(f.startswith("data/uploads/") and f.endswith(".jpg") for f in files)
    assert not any(f.startswith("data/thumbs") for f in files)
    assert manifest["backend"] == "qdrant-edge" and manifest["model"] == "pixseek-tiny"
    assert [b.name for b in list_backups(folder.parent)] == [folder.name]


def test_a_restored_library_answers_as_the_original(
    backup: dict[str, Any],
    original: Path,
    library: GeneratedLibrary,
    tmp_path: Path,
    tiny_embedder: Embedder,
) -> None:
    fresh = tmp_path / "fresh"
    restored = as_json(pixseek(fresh, "restore", backup["path"], "--json"))
    assert restored["photos"] == restored["points"] == backup["photos"]
    answers = searches(fresh, library, tiny_embedder)
    assert answers == searches(original, library, tiny_embedder)
    assert all(answers) and answers[1][0][0] == str(library.photos[3].path)
    database = sqlite_store(fresh)
    assert UserStore(database).authenticate("alice", "correct horse") is not None
    database.close()
    uploads = [p.name for p in (fresh / "uploads").rglob("*.jpg")]
    assert uploads == [p.name for p in (original / "uploads").rglob("*.jpg")]
    again = as_json(pixseek(fresh, "index", str(library.root), "--json"))
    assert again["embedded"] == 0 and again["unchanged"] == len(library.photos)


def test_restoring_over_a_library_with_photos_needs_force(
    backup: dict[str, Any],
    original: Path,
    library: GeneratedLibrary,
    tmp_path: Path,
    tiny_embedder: Embedder,
) -> None:
    target = tmp_path / "target"
    shutil.copytree(original, target)
    for seed in range(3):
        write_image(tmp_path / "more" / f"new{seed}.png", textured_rgb(700 + seed))
    as_json(pixseek(target, "index", str(tmp_path / "more"), "--json"))
    refused = pixseek(target, "restore", backup["path"])
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert as_json(pixseek(target, "stats", "--json"))["points"] == backup["photos"] + 3

    as_json(pixseek(target, "restore", backup["path"], "--force", "--json"))
    assert as_json(pixseek(target, "stats", "--json"))["points"] == backup["photos"]
    assert searches(target, library, tiny_embedder) == searches(original, library, tiny_embedder)


def test_a_damaged_backup_is_refused_before_anything_changes(
    backup: dict[str, Any], tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(backup["path"], damaged)
    segment = max(
        (damaged / "index").rglob("*"), key=lambda p: p.stat().st_size if p.is_file() else 0
    )
    content = bytearray(segment.read_bytes())
    content[len(content) // 2] ^= 0xFF
    segment.write_bytes(bytes(content))
    target = tmp_path / "target"
    refused = pixseek(target, "restore", str(damaged))
    assert refused.returncode == 1
    assert "damaged" in refused.stderr and segment.name in refused.stderr
    assert not (target / "catalog.sqlite3").exists() and not (target / "index").exists()

    (damaged / MANIFEST).unlink()
    refused = pixseek(target, "restore", str(damaged))
    assert refused.returncode == 1 and "not a pixseek backup" in refused.stderr


def test_a_backup_is_restored_only_into_the_backend_it_came_from(
    backup: dict[str, Any], tmp_path: Path
) -> None:
    refused = pixseek(
        tmp_path / "server", "restore", backup["path"],
        env={"PIXSEEK_QDRANT_URL": "http://127.0.0.1:9"},
    )  # fmt: skip
    assert refused.returncode == 1 and "migrate-index" in refused.stderr


def test_backup_while_the_library_is_served_points_to_the_admin_page(
    original: Path, tmp_path: Path
) -> None:
    with DataDirLock(original):
        refused = pixseek(original, "backup", str(tmp_path))
    assert refused.returncode == 1 and "/api/v1/admin/backups" in refused.stderr
    assert list(tmp_path.iterdir()) == []


def test_keep_deletes_the_oldest_backups_and_left_over_partial_ones(
    original: Path, tmp_path: Path
) -> None:
    made = [as_json(pixseek(original, "backup", str(tmp_path), "--json")) for _ in range(3)]
    stale = tmp_path / ".pixseek-backup-20200101T000000Z.partial"
    stale.mkdir()
    os.utime(stale, (0, 0))
    deleted = prune(tmp_path, keep=2)
    assert deleted == [Path(made[0]["path"]).name, stale.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        Path(m["path"]).name for m in made[1:]
    )
    listed = as_json(pixseek(original, "backups", str(tmp_path), "--json"))
    assert [b["name"] for b in listed] == [Path(m["path"]).name for m in reversed(made[1:])]


def test_a_backup_cut_short_by_a_restart_is_marked_failed(settings: Settings) -> None:
    jobs = open_job_store(settings)
    job = jobs.create("backup", {})
    jobs.start(job.id)
    with EmbeddedRuntime(settings):  # the next start of the embedded mode
        ended = jobs.get(job.id)
    assert ended is not None and ended.state == "failed"
    assert ended.error and "stopped before the backup was complete" in ended.error
