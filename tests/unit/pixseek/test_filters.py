"""Search filters from what a user typed: folders and dates that once raised past QueryError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pixseek.errors import QueryError
from pixseek.search.filters import build_filters, folder_path


def test_a_folder_is_expanded_and_resolved(tmp_path: Path) -> None:
    real = tmp_path / "photos"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert folder_path(tmp_path / "link" / ".." / "link") == str(real)
    assert folder_path("~") == os.path.expanduser("~")


def test_a_folder_that_is_nowhere_stays_a_path_that_matches_nothing(tmp_path: Path) -> None:
    """Path.expanduser raised RuntimeError for an unknown ~user and Path.resolve for a symlink
    loop: a 500 through the web API's folder filter."""
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert folder_path(tmp_path / "loop" / "x").endswith("loop/x")
    unknown = "~no-user-has-this-name/photos"
    assert folder_path(unknown) == str(Path.cwd() / unknown)


def test_a_nul_byte_in_a_folder_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="NUL"):
        build_filters(folders=["/photos\x00/trips"])


def test_a_bound_past_the_last_day_is_a_query_error() -> None:
    """`before` a bare date is the start of the next day: 9999-12-31 overflowed (a 500)."""
    with pytest.raises(QueryError, match="before '9999-12-31' is out of range"):
        build_filters(before="9999-12-31")
    assert build_filters(after="9999-12-31").taken_from == "9999-12-31T00:00:00"


def test_a_folder_name_is_kept_for_search_to_match_against_the_librarys_folders() -> None:
    assert folder_path("trips") == "trips"
    assert folder_path(" ./2019//japan/ ") == "2019/japan"
    assert build_filters(folders=["trips", "/photos/home"]).folders == ("trips", "/photos/home")
