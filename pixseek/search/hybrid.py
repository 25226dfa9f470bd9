"""Text queries search twice, by the picture (the model's vector) and by the words (file and
folder names, keywords, captions, places, text in the picture), and the two lists are fused.

Reciprocal rank fusion (RRF) is the default: it needs no common scale between a cosine
similarity and a BM25-like word score (docs/quality.md, "Text search", compares it with a
weighted sum). A word hit counts by how much of the query its words cover, twice as much as a
picture hit when it covers all: a photo named or tagged with every word of the query comes
first, while one sharing only "at" with "red bicycle at night" does not push the picture's best
down. Each fused hit says what matched it: the word sources its
payload shares with the query (pixseek.photos.text), and "visual" when the picture search found
it among its candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, get_args

from pixseek.index.base import Hit
from pixseek.photos.text import coverage as query_coverage
from pixseek.photos.text import matched_sources

Fusion = Literal["rrf", "weighted", "visual", "text"]
FUSIONS: tuple[str, ...] = get_args(Fusion)
RRF_K = 60  # the usual constant: rank 1 scores 1/61, rank 10 1/70
RRF_TEXT_WEIGHT = 2.0  # a word hit covering the whole query, against a picture hit
TEXT_WEIGHT = 0.2  # weighted: the best word match adds this much to a cosine similarity
VISUAL = "visual"


@dataclass(frozen=True)
class Candidates:
    """The hits of a search, best first, and the ids the picture search found."""

    hits: list[Hit]
    visual_ids: frozenset[str]

    def matched(self, hit: Hit, query_text: str) -> list[str]:
        """What made this hit a result: word sources, then "visual"."""
        found = matched_sources(hit.payload, query_text) if query_text else []
        return [*found, VISUAL] if hit.id in self.visual_ids else found


def visual_only(hits: list[Hit]) -> Candidates:
    return Candidates(hits, frozenset(h.id for h in hits))


def fuse(visual: Sequence[Hit], text: Sequence[Hit], fusion: Fusion, query_text: str) -> Candidates:
    """One list from the picture search's hits and the word search's, best first. No word hit:
    the picture's hits as they are, with their cosine scores."""
    visual_ids = frozenset(h.id for h in visual)
    if fusion == "visual" or (not text and fusion != "text"):
        return Candidates(list(visual), visual_ids)
    if fusion == "text":
        return Candidates(list(text), frozenset())
    if fusion == "rrf":
        scores = rrf_scores(visual, text, coverage(text, query_text))
    else:
        scores = weighted_scores(visual, text)
    payloads = {h.id: h for h in [*visual, *text]}
    ranked = sorted(scores, key=lambda i: scores[i], reverse=True)
    return Candidates([replace(payloads[i], score=scores[i]) for i in ranked], visual_ids)


def rrf_scores(
    visual: Sequence[Hit], text: Sequence[Hit], covered: dict[str, float]
) -> dict[str, float]:
    """Reciprocal rank fusion: each list adds weight / (RRF_K + rank) to the ids it holds; a
    picture hit's weight is 1, a word hit's RRF_TEXT_WEIGHT times its query coverage."""
    scores: dict[str, float] = {}
    for rank, hit in enumerate(visual, start=1):
        scores[hit.id] = 1.0 / (RRF_K + rank)
    for rank, hit in enumerate(text, start=1):
        weight = RRF_TEXT_WEIGHT * covered.get(hit.id, 0.0)
        scores[hit.id] = scores.get(hit.id, 0.0) + weight / (RRF_K + rank)
    return scores


def coverage(hits: Sequence[Hit], query_text: str) -> dict[str, float]:
    """The share of the query's words among each hit's words (pixseek.photos.text.coverage)."""
    return {hit.id: query_coverage(hit.payload, query_text) for hit in hits}


def weighted_scores(visual: Sequence[Hit], text: Sequence[Hit]) -> dict[str, float]:
    """The cosine similarity plus TEXT_WEIGHT times the word score relative to the best one;
    a word hit the picture search did not find counts its lowest candidate's similarity."""
    floor = min((h.score for h in visual), default=0.0)
    scores = {h.id: h.score for h in visual}
    best = max((h.score for h in text), default=0.0)
    for hit in text:
        bonus = TEXT_WEIGHT * hit.score / best if best > 0 else 0.0
        scores[hit.id] = scores.get(hit.id, floor) + bonus
    return scores
