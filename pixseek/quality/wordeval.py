"""`pixseek eval --words QUERIES`: text queries for names, folders, keywords and places, run on
the library's own index by the picture alone, by the words alone, and fused (RRF and a weighted
sum), with Recall@K and MRR for each (pixseek.search.hybrid).

QUERIES is JSON Lines: {"text": "IMG_2041", "kind": "name", "relevant": ["IMG_2041.jpg"]}; a
result counts as relevant when the file name of its first path is listed (names are what a
user remembers; give each file of the eval library a name of its own).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from pixseek.errors import QueryError
from pixseek.library import Library
from pixseek.quality.metrics import Judged, score
from pixseek.search.hybrid import FUSIONS, Fusion
from pixseek.search.search import QueryTerm, SearchRequest, search

DEPTH = 100  # results asked per query
MEASURE_NAMES = ("R@1", "R@10", "P@10", "MRR", "mAP@100")
LABELS = {"visual": "visual only", "text": "words only", "rrf": "fused (RRF)",
          "weighted": "fused (weighted)"}  # fmt: skip


@dataclass(frozen=True)
class WordQuery:
    id: str
    text: str
    kind: str  # name, folder, keyword, place, ...: figures are given by kind too
    relevant: frozenset[str]  # file names


def word_queries(path: Path) -> list[WordQuery]:
    """The queries of a JSON Lines file; QueryError names a line that is not one."""
    queries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            relevant = frozenset(str(name) for name in item["relevant"])
            queries.append(WordQuery(f"q{number}", str(item["text"]), str(item.get("kind", "")),
                                     relevant))  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise QueryError(f"{path}:{number}: not a word query ({exc})") from None
    return queries


def evaluate_words(library: Library, queries: Sequence[WordQuery]) -> dict[str, Any]:
    """Each fusion's figures over every query and by kind."""
    judged = {q.id: Judged(q.id, dict.fromkeys(q.relevant, 1)) for q in queries}
    kinds = sorted({q.kind for q in queries})
    report: dict[str, Any] = {"queries": len(queries), "fusions": {}}
    for fusion in FUSIONS:
        rankings = {q.id: _ranking(library, q.text, fusion) for q in queries}
        figures = {"overall": _rounded(score(list(judged.values()), rankings, MEASURE_NAMES))}
        for kind in kinds:
            chosen = [judged[q.id] for q in queries if q.kind == kind]
            figures[kind] = _rounded(score(chosen, rankings, MEASURE_NAMES))
        report["fusions"][fusion] = figures
    return report


def _ranking(library: Library, text: str, fusion: str) -> list[str]:
    mode: Fusion = fusion  # type: ignore[assignment]  # one of FUSIONS
    request = SearchRequest((QueryTerm("text", text),), limit=DEPTH, fusion=mode)
    results = search(request, library.embedder, library.index)
    return [PurePath(r.path).name if r.path else r.id for r in results]


def _rounded(figures: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 3) for name, value in figures.items()}


def words_table(report: dict[str, Any]) -> str:
    """The report as a text table: one row per fusion and kind."""
    lines = [f"{report['queries']} word queries", f"{'':18} {'kind':10} "
             + " ".join(f"{n:>8}" for n in MEASURE_NAMES)]  # fmt: skip
    for fusion, figures in report["fusions"].items():
        for kind, values in figures.items():
            row = " ".join(f"{values[n]:8.3f}" for n in MEASURE_NAMES)
            lines.append(f"{LABELS[fusion]:18} {kind:10} {row}")
    return "\n".join(lines)
