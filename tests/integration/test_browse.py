"""Browsing without a query (pixseek/search/browse.py) on a real Edge index: every photo once,
in the order taken, across pages and bursts that share one timestamp; months with counts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pixseek.errors import QueryError
from pixseek.index.base import IndexPoint, SearchFilters
from pixseek.index.edge.shard import EdgeIndex
from pixseek.search.browse import Cursor, Timeline, browse

TAKEN = [
    ("2021-05-30T09:00:00", "canon"),
    ("2021-06-01T10:00:00", "canon"),
    *[("2021-06-15T12:00:00", "apple")] * 5,  # a burst: five photos of one second
    ("2021-06-20T08:00:00", "canon"),
    ("2021-07-04T21:00:00", "apple"),
    ("2022-01-01T00:00:00", "canon"),
]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[EdgeIndex]:
    opened = EdgeIndex(tmp_path / "index")
    opened.ensure_vector("v", 4)
    rng = np.random.default_rng(0)
    opened.upsert(
        [
            IndexPoint(
                str(uuid.UUID(int=n + 1)),
                {"v": rng.normal(size=4).astype(np.float32)},
                {
                    "taken_at": taken,
                    "camera_keys": [camera],
                    "folders": ["/", "/lib"],
                    "paths": [f"/lib/{n}.jpg"],
                },
            )
            for n, (taken, camera) in enumerate(TAKEN)
        ]
        + [IndexPoint(str(uuid.UUID(int=99)), {"v": np.ones(4, np.float32)}, {"taken_at": None})]
    )
    yield opened
    opened.close()


def walk(index: EdgeIndex, limit: int, **kwargs: object) -> list[Timeline]:
    pages = [browse(index, limit=limit, **kwargs)]  # type: ignore[arg-type]
    while pages[-1].next is not None:
        pages.append(browse(index, limit=limit, cursor=pages[-1].next, **kwargs))  # type: ignore[arg-type]
        assert len(pages) < 20
    return pages


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 20])
def test_every_dated_photo_comes_once_newest_first_whatever_the_page_size(
    index: EdgeIndex, limit: int
) -> None:
    pages = walk(index, limit, filters=SearchFilters())
    shown = [r.payload["taken_at"] for page in pages for r in page.results]
    assert shown == sorted((taken for taken, _ in TAKEN), reverse=True)
    ids = [r.id for page in pages for r in page.results]
    assert len(set(ids)) == len(ids) == len(TAKEN)  # the burst split across pages: none twice


def test_oldest_first_with_a_filter_and_the_months_of_each_page(index: EdgeIndex) -> None:
    canon = SearchFilters(cameras=("canon",))
    pages = walk(index, 3, filters=canon, newest_first=False)
    assert [r.payload["taken_at"][:10] for r in pages[0].results] == [
        "2021-05-30", "2021-06-01", "2021-06-20",
    ]  # fmt: skip
    assert [(m.month, m.photos) for m in pages[0].months] == [("2021-05", 1), ("2021-06", 2)]
    assert [(m.month, m.photos) for m in pages[1].months] == [("2022-01", 1)]
    everything = browse(index, SearchFilters(), limit=2)
    assert [(m.month, m.photos) for m in everything.months] == [("2022-01", 1), ("2021-07", 1)]
    june = browse(index, SearchFilters(taken_from="2021-06-10T00:00:00"), newest_first=False)
    assert june.months[0].month == "2021-06" and june.months[0].photos == 6  # within the filter


@pytest.mark.parametrize(
    "cursor",
    [
        "nonsense",
        "e30",
        Cursor("not a date", 0).encode(),
        Cursor("2021-06-01T10:00:00+02:00", 0).encode(),
        "x" * 5000,
    ],
)
def test_a_cursor_no_page_gave_is_a_query_error(index: EdgeIndex, cursor: str) -> None:
    with pytest.raises(QueryError, match="cursor"):
        browse(index, SearchFilters(), cursor=cursor)
