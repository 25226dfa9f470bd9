"""Retrieval metrics, computed by ir-measures (pytrec_eval underneath), with junk as the revisited
Oxford protocol has it.

A query has relevant documents with grades (1: relevant; higher: more so, as nDCG weighs them)
and junk documents: ones neither right nor wrong (another copy of the same photo, a picture too
ambiguous to judge). Junk is taken out of the ranking before anything is counted, so it neither
helps nor hurts. Recall@K is the share of a query's relevant documents among its first K (with
one relevant document: whether it is there); mAP the mean average precision over the whole
ranking (AP@100: over its first 100); MRR the mean reciprocal rank of the first relevant one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import ir_measures
from ir_measures import AP, RR, Measure, P, Qrel, R, ScoredDoc, nDCG

# The figures of a run, by the name tables and JSON give them.
MEASURES: dict[str, Measure] = {
    "R@1": R @ 1, "R@5": R @ 5, "R@10": R @ 10, "R@100": R @ 100,
    "mAP": AP, "mAP@100": AP @ 100, "P@1": P @ 1, "P@10": P @ 10,
    "MRR": RR, "nDCG@10": nDCG @ 10,
}  # fmt: skip
CURVE_KS = (1, 2, 5, 10, 20, 50, 100)  # Recall@K points of the --plot curves
NOTHING = "\x00nothing"  # stands in for an empty ranking, so its query still counts (as 0)


@dataclass(frozen=True)
class Judged:
    """A query's judgements: relevant documents with their grades, and junk."""

    id: str
    relevant: Mapping[str, int]
    junk: frozenset[str] = field(default_factory=frozenset)


def score(
    queries: Sequence[Judged],
    rankings: Mapping[str, Sequence[str]],
    names: Iterable[str] = MEASURES,
) -> dict[str, float]:
    """Each named measure averaged over the queries (those with a relevant document; a query
    without a ranking counts as one that found nothing)."""
    measures = {name: _measure(name) for name in names}
    judged = [q for q in queries if any(g > 0 for g in q.relevant.values())]
    if not judged:
        return dict.fromkeys(measures, 0.0)
    qrels = [Qrel(q.id, doc, grade) for q in judged for doc, grade in q.relevant.items()]
    run = [doc for q in judged for doc in _scored(q, rankings.get(q.id, ()))]
    found = ir_measures.calc_aggregate(list(measures.values()), qrels, run)
    return {name: float(found.get(measure, 0.0)) for name, measure in measures.items()}


def recall_curve(
    queries: Sequence[Judged], rankings: Mapping[str, Sequence[str]]
) -> dict[int, float]:
    """Recall@K at each of CURVE_KS."""
    figures = score(queries, rankings, [f"R@{k}" for k in CURVE_KS])
    return {k: figures[f"R@{k}"] for k in CURVE_KS}


def _measure(name: str) -> Measure:
    if name in MEASURES:
        return MEASURES[name]
    parsed: Measure = ir_measures.parse_measure(name.replace("mAP", "AP").replace("MRR", "RR"))
    return parsed


def _scored(query: Judged, ranking: Sequence[str]) -> list[ScoredDoc]:
    """The ranking without junk (nor the query itself), as descending scores: pytrec_eval
    orders by score, so ranks become scores len..1."""
    kept = [doc for doc in ranking if doc not in query.junk and doc != query.id]
    if not kept:
        return [ScoredDoc(query.id, NOTHING, 0.0)]
    return [ScoredDoc(query.id, doc, float(len(kept) - i)) for i, doc in enumerate(kept)]
