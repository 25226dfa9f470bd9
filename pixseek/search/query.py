"""Query text with weights and negatives, in the style rclip users know.

  red bicycle by a canal        one term
  beach +sunset -people         beach and sunset, away from people
  2:dog +cat                    dog counts twice as much as cat
  -0.5:blurry                   a half-weight negative term

A term starts at the beginning or at a word prefixed with + or -; the words after it, up to the
next such word, belong to it. An optional WEIGHT: prefix scales a term.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pixseek.errors import QueryError

_WEIGHT = re.compile(r"^(\d+(?:\.\d+)?|\.\d+):(.*)$")
MAX_WEIGHT = 100.0


@dataclass(frozen=True)
class WeightedText:
    text: str
    weight: float


def parse_query_text(query: str) -> list[WeightedText]:
    """Split query text into weighted terms; raise QueryError if a term is empty or malformed."""
    terms: list[tuple[int, list[str]]] = []
    for word in query.split():
        sign = {"+": 1, "-": -1}.get(word[0], 0)
        if sign or not terms:
            terms.append((sign or 1, []))
            word = word[1:] if sign else word
        if word:
            terms[-1][1].append(word)
    return [_weighted(sign, words) for sign, words in terms]


def _weighted(sign: int, words: list[str]) -> WeightedText:
    text = " ".join(words)
    weight = 1.0
    match = _WEIGHT.match(text)
    if match:
        weight = float(match.group(1))
        text = match.group(2).strip()
        if not 0 < weight <= MAX_WEIGHT:
            raise QueryError(f"a weight must be above 0 and at most {MAX_WEIGHT:g}, not {weight:g}")
    if not text:
        raise QueryError("a query term is empty: write a word after +, - or WEIGHT:")
    return WeightedText(text, sign * weight)
