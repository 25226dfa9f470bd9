"""Place names end to end: photos with GPS EXIF of known cities, indexed by the real `pixseek`
command (in process), found by place name, radius and box; older points named by a rescan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from pixseek.index.base import IndexPoint, SearchFilters
from pixseek.library import Library
from pixseek.photos.identity import file_sha256, point_id
from pixseek.photos.places import PLACE_FIELDS
from pixseek.search.filters import build_filters
from pixseek.settings import Settings, load_settings
from tests.conftest import TINY_MODEL
from tests.imagegen import ExifSpec, textured_rgb, write_image

CITIES = {"tokyo": (35.6895, 139.6917), "paris": (48.8566, 2.3522), "kyoto": (35.0116, 135.7681)}


def pixseek(settings: Settings, *args: str) -> Any:
    """The command's JSON answer; asserts it succeeded."""
    env = {"PIXSEEK_MODEL": "pixseek-tiny", "PIXSEEK_DEVICE": "cpu"}
    result = CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), *args], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def found(settings: Settings, *filters: str) -> set[str]:
    page = pixseek(settings, "search", *filters, "--json")
    return {Path(r["path"]).stem for r in page["results"]}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """Three photos taken in known cities and one without GPS, indexed by `pixseek index`."""
    root = tmp_path_factory.mktemp("places")
    for seed, (name, gps) in enumerate(CITIES.items()):
        exif = ExifSpec(taken=f"2023:04:0{seed + 1} 10:00:00", gps=gps)
        write_image(root / "lib" / f"{name}.jpg", textured_rgb(seed), exif)
    exif = ExifSpec(taken="2023:04:09 10:00:00")
    write_image(root / "lib" / "nowhere.jpg", textured_rgb(9), exif)
    settings = load_settings(data_dir=root / "data", model=TINY_MODEL, device="cpu")
    pixseek(settings, "index", str(root / "lib"), "--json")
    return settings, root / "lib"


def matching(library: Library, **typed: Any) -> set[str]:
    points = library.index.by_date(build_filters(**typed), True, 10)
    return {Path(p.payload["paths"][0]).stem for p in points}


def test_photos_are_found_by_place_name_radius_and_box(indexed: tuple[Settings, Path]) -> None:
    settings, photos = indexed
    assert found(settings, "--place", "TOKYO") == {"tokyo"}
    assert found(settings, "--near", "35.68,139.76,20") == {"tokyo"}
    assert found(settings, "--box", "36,139,35.5,140") == {"tokyo"}
    with Library(settings) as library:
        tokyo = library.index.retrieve([point_id(file_sha256(photos / "tokyo.jpg"))])[0].payload
        plain = library.index.retrieve([point_id(file_sha256(photos / "nowhere.jpg"))])[0]
        assert matching(library, places=["japan"]) == {"tokyo", "kyoto"}
        assert matching(library, places=["France", "kyoto"]) == {"paris", "kyoto"}
        assert matching(library, near=(35.68, 139.76, 400)) == {"tokyo", "kyoto"}  # 365 km
        assert matching(library, box=(40, 0, 50, 5), places=["paris"]) == {"paris"}
    assert (tokyo["city"], tokyo["country"], tokyo["country_code"]) == ("Tokyo", "Japan", "JP")
    assert not set(PLACE_FIELDS) & set(plain.payload)  # no GPS: no place fields


def test_a_bad_radius_or_box_is_a_usage_error(tmp_path: Path) -> None:
    for args in (["--near", "35,139,0"], ["--near", "35,139"], ["--box", "95,0,10,10"]):
        result = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "search", *args])
        assert result.exit_code == 2, result.output
        assert args[0] in result.output


def test_a_rescan_names_the_places_of_photos_indexed_before_place_names(
    indexed: tuple[Settings, Path],
) -> None:
    settings, photos = indexed
    kyoto = point_id(file_sha256(photos / "kyoto.jpg"))
    with Library(settings) as library:  # as an older release wrote it: no place fields
        (name,) = library.index.vector_names()
        old = library.index.retrieve([kyoto], vector=name)[0]
        assert old.vector is not None
        payload = {k: v for k, v in old.payload.items() if k not in PLACE_FIELDS}
        library.index.upsert([IndexPoint(kyoto, {name: old.vector}, payload)])
        assert library.index.count(SearchFilters(unnamed_places=True)) == 1
        assert matching(library, places=["kyoto"]) == set()
    report = pixseek(settings, "index", str(photos), "--json")
    assert report["embedded"] == 0  # nothing read again: the payload alone was completed
    assert found(settings, "--place", "kyoto") == {"kyoto"}
    with Library(settings) as library:
        assert library.index.count(SearchFilters(unnamed_places=True)) == 0
