from __future__ import annotations

import pytest

from pixseek.errors import QueryError
from pixseek.search.query import WeightedText, parse_query_text


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("red bicycle by a canal", [("red bicycle by a canal", 1.0)]),
        ("beach +sunset -people", [("beach", 1.0), ("sunset", 1.0), ("people", -1.0)]),
        ("2:dog +cat", [("dog", 2.0), ("cat", 1.0)]),
        ("-0.5:blurry photo +sharp", [("blurry photo", -0.5), ("sharp", 1.0)]),
        ("  cat   at  night ", [("cat at night", 1.0)]),
        ("-dog", [("dog", -1.0)]),
        ("well-lit room", [("well-lit room", 1.0)]),
        ("+ sunset", [("sunset", 1.0)]),
    ],
)
def test_terms_weights_and_signs(query: str, terms: list[tuple[str, float]]) -> None:
    assert parse_query_text(query) == [WeightedText(text, weight) for text, weight in terms]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("beach -", "empty"),
        ("2:", "empty"),
        ("0:dog", "weight must be above 0"),
        ("500:dog", "at most 100"),
    ],
)
def test_malformed_queries_say_what_is_wrong(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query_text(query)
