"""End to end: the real `pixseek` command on a generated library of ~300 real image files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pixseek.store.lock import DataDirLock
from tests.integration.library import GeneratedLibrary, generate_library


def pixseek(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cli", "--data-dir", str(data_dir), *args]
    environment = {
        **os.environ,
        "PIXSEEK_MODEL": "pixseek-tiny",
        "PIXSEEK_DEVICE": "cpu",
        **(env or {}),
    }
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> GeneratedLibrary:
    return generate_library(tmp_path_factory.mktemp("library"))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def first_run(library: GeneratedLibrary, data_dir: Path) -> dict[str, Any]:
    return as_json(pixseek(data_dir, "index", str(library.root), "--json"))


def test_indexes_every_valid_image_and_reports_each_corrupt_one(
    first_run: dict[str, Any], library: GeneratedLibrary
) -> None:
    assert first_run["indexed"] == first_run["embedded"] == len(library.photos) == 297
    failed = {item["path"]: item["reason"] for item in first_run["failed"]}
    assert set(failed) == {str(p) for p in library.corrupt}
    assert all(reason.strip() for reason in failed.values())


def test_search_by_an_indexed_image_lists_it_first(
    first_run: dict[str, Any], library: GeneratedLibrary, data_dir: Path
) -> None:
    for photo in library.photos[::75]:
        results = as_json(
            pixseek(data_dir, "search", "--image", str(photo.path), "--json", "--limit", "5")
        )
        assert results[0]["path"] == str(photo.path)
        assert results[0]["score"] >= 0.99
        assert {"id", "path", "score", "payload"} <= set(results[0])


def test_a_second_run_embeds_nothing(
    first_run: dict[str, Any], library: GeneratedLibrary, data_dir: Path
) -> None:
    second = as_json(pixseek(data_dir, "index", str(library.root), "--json"))
    assert second["embedded"] == 0 and second["indexed"] == 0
    assert second["unchanged"] == len(library.photos)
    assert len(second["failed"]) == len(library.corrupt)


def test_camera_filter_returns_exactly_that_camera(
    first_run: dict[str, Any], library: GeneratedLibrary, data_dir: Path
) -> None:
    expected = {str(p.path) for p in library.photos if p.camera and p.camera[0] == "Canon"}
    results = as_json(
        pixseek(data_dir, "search", "a photo", "--camera", "Canon", "--limit", "1000", "--json")
    )
    assert {r["path"] for r in results} == expected
    by_model = as_json(
        pixseek(data_dir, "search", "a photo", "--camera", "iphone 12", "--limit", "1000", "--json")
    )
    assert {r["payload"]["camera_model"] for r in by_model} == {"iPhone 12"}


def test_date_filter_returns_exactly_the_photos_taken_in_range(
    first_run: dict[str, Any], library: GeneratedLibrary, data_dir: Path
) -> None:
    expected = {
        str(p.path)
        for p in library.photos
        if p.taken and "2020-03-01" <= p.taken[:10] <= "2020-08-31"
    }
    assert expected
    args = [
        "search",
        "sky",
        "--after",
        "2020-03-01",
        "--before",
        "2020-08-31",
        "--limit",
        "1000",
        "--json",
    ]
    results = as_json(pixseek(data_dir, *args))
    assert {r["path"] for r in results} == expected


def test_filters_without_a_query_list_those_photos_by_date_a_page_at_a_time(
    first_run: dict[str, Any], library: GeneratedLibrary, data_dir: Path
) -> None:
    expected = {str(p.path) for p in library.photos if p.camera and p.camera[0] == "Canon"}
    pages = [as_json(pixseek(data_dir, "search", "--camera", "canon", "--limit", "25", "--json"))]
    while pages[-1]["next"]:
        more = ["--cursor", pages[-1]["next"], "--limit", "25", "--json"]
        pages.append(as_json(pixseek(data_dir, "search", "--camera", "canon", *more)))
    shown = [result for page in pages for result in page["results"]]
    assert sorted(r["path"] for r in shown) == sorted(expected) and len(pages) > 1
    taken = [r["payload"]["taken_at"] for r in shown]
    assert taken == sorted(taken, reverse=True)
    first_month = pages[0]["months"][0]
    in_month = [t for t in taken if t.startswith(first_month["month"])]
    assert first_month["photos"] == len(in_month)
    oldest = as_json(pixseek(data_dir, "search", "--camera", "canon", "--oldest-first", "--json"))
    assert oldest["results"][0]["payload"]["taken_at"] == min(taken)


def test_like_finds_other_photos_and_leaves_the_example_out(
    first_run: dict[str, Any], library: GeneratedLibrary, data_dir: Path
) -> None:
    example = as_json(
        pixseek(
            data_dir, "search", "--image", str(library.photos[10].path), "--json", "--limit", "1"
        )
    )[0]
    similar = as_json(
        pixseek(data_dir, "search", "--like", example["id"], "--json", "--limit", "5")
    )
    assert len(similar) == 5
    assert example["id"] not in {r["id"] for r in similar}


def test_stats_counts_points_and_failures(
    first_run: dict[str, Any], library: GeneratedLibrary, data_dir: Path
) -> None:
    stats = as_json(pixseek(data_dir, "stats", "--json"))
    assert stats["points"] == stats["files_indexed"] == len(library.photos)
    assert stats["files_failed"] == len(library.corrupt)
    assert stats["model_id"] == "pixseek-tiny--none"


def test_stats_shows_the_precision_check_of_the_first_index(
    first_run: dict[str, Any], data_dir: Path
) -> None:
    precision = as_json(pixseek(data_dir, "stats", "--json"))["precision"]
    assert precision["setting"] == "auto"
    check = precision["check"]  # made on the library's first 256 photos, and 64 texts
    assert (check["photos"], check["texts"], check["library"]) == (256, 64, str(data_dir))
    assert {(m["tower"], m["candidate"]) for m in check["measures"]} >= {
        ("image", "onnxruntime int8"), ("text", "onnxruntime int8"),
    }  # fmt: skip
    usable = {m["candidate"] for m in check["measures"] if m["agrees"]}
    assert check["chosen"]["image"] in usable | {"onnxruntime fp32"}
    assert set(check["thresholds"]) >= {"mean_cosine", "min_cosine", "top10_overlap"}
    text = pixseek(data_dir, "stats")
    assert f"precision: auto: image {check['chosen']['image']}" in text.stdout
    assert "checked on 256 photos and 64 texts" in text.stdout


def test_a_deleted_file_leaves_the_index(tmp_path: Path, library: GeneratedLibrary) -> None:
    small = tmp_path / "small"
    for photo in library.photos[:8]:
        shutil.copy2(
            photo.path,
            small / photo.path.name if small.exists() else _mkdir(small) / photo.path.name,
        )
    data = tmp_path / "data"
    as_json(pixseek(data, "index", str(small), "--json"))
    doomed = small / library.photos[3].path.name
    kept_copy = shutil.copy2(doomed, tmp_path / doomed.name)
    doomed.unlink()
    report = as_json(pixseek(data, "index", str(small), "--json"))
    assert report["removed"] == 1 and report["embedded"] == 0
    results = as_json(pixseek(data, "search", "--image", str(kept_copy), "--json", "--limit", "20"))
    assert str(doomed) not in {r["path"] for r in results}
    assert len(results) == 7


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_a_locked_data_dir_says_who_holds_it(tmp_path: Path) -> None:
    with DataDirLock(tmp_path):  # stats reads a held library: search needs it to itself
        result = pixseek(tmp_path, "search", "a photo")
    assert result.returncode == 1
    assert f"process {os.getpid()}" in result.stderr and "PIXSEEK_DATA_DIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_weights_that_cannot_be_downloaded_say_how_to_use_a_local_file(tmp_path: Path) -> None:
    env = {
        "PIXSEEK_MODEL": "ViT-B-32:laion2b_s34b_b79k",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
    }
    result = pixseek(tmp_path / "data", "search", "a red bicycle", env=env)
    assert result.returncode == 1
    assert "PIXSEEK_MODEL=ViT-B-32:/path/to/open_clip_pytorch_model.bin" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "--cursor", "nonsense"], "cursor 'nonsense' is not one a timeline page gave"),
        (["search", "x", "--after", "last tuesday"], "--after 'last tuesday' is not a date"),
        (["search", "beach -"], "a query term is empty"),
        (["search", "--like", "0c0ffee0-0000-0000-0000-000000000000"], "no indexed photo with id"),
        (["search", "--like", "not-a-photo-id"], "no indexed photo with id"),
        (["index", "/no/such/folder"], "no such file or folder"),
    ],
)
def test_usage_errors_exit_2_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    result = pixseek(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_model_is_a_settings_error(tmp_path: Path) -> None:
    result = pixseek(tmp_path, "stats", env={"PIXSEEK_MODEL": "ViT-B-32"})
    assert result.returncode == 2
    assert "PIXSEEK_MODEL" in result.stderr and "does not say which weights" in result.stderr


def test_model_switches_by_command_and_by_a_changed_pixseek_model(
    tmp_path: Path, library: GeneratedLibrary
) -> None:
    small = _mkdir(tmp_path / "small")
    for photo in library.photos[:12]:
        shutil.copy2(photo.path, small / photo.path.name)
    data, new = tmp_path / "data", {"PIXSEEK_MODEL": "pixseek-tiny-b"}
    as_json(pixseek(data, "index", str(small), "--json"))
    changed = pixseek(data, "index", str(small), "--json", env=new)
    assert "switching to pixseek-tiny-b (PIXSEEK_MODEL changed)" in changed.stderr
    assert as_json(changed)["embedded"] == 0, "the switch embedded them; nothing else changed"
    assert as_json(pixseek(data, "stats", "--json", env=new))["vectors"] == {
        "pixseek-tiny-b--none": 48}  # fmt: skip

    back = as_json(pixseek(data, "model", "switch", "pixseek-tiny", "--json", env=new))
    assert (back["kind"], back["state"], back["done"]) == ("model-switch", "done", 12)
    as_json(pixseek(data, "index", str(small), "--json", env=new))
    model = as_json(pixseek(data, "model", "--json", env=new))
    assert (model["active"], model["target"]) == ("pixseek-tiny", None), "a switch sticks"
    results = as_json(pixseek(data, "search", "--image", str(small / library.photos[4].path.name),
                              "--json", "--limit", "1"))  # fmt: skip
    assert results[0]["path"] == str(small / library.photos[4].path.name)

    again = pixseek(data, "model", "switch", "pixseek-tiny")
    assert again.returncode == 1 and "active model already" in again.stderr
    unknown = pixseek(data, "model", "switch", "NoSuchArchitecture:laion2b_s34b_b79k")
    assert unknown.returncode == 2 and "no architecture" in unknown.stderr
