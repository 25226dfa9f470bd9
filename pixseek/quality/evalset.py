"""What an eval measures against: images to search among, and queries with their judgements.

Three sources, all reading files, never writing into a library:

- a labelled folder: one subfolder per group of pictures of one thing (UKBench, INRIA Holidays);
  each picture queries for the others of its group; pictures at the top are distractors;
- a queries file, JSON Lines: {"text": "..."} or {"image": path}, with "relevant" (a list of
  paths, or {path: grade}) and "junk" (paths), as in the revisited Oxford protocol; relative
  paths are read from the file's folder;
- a copy-detection set (copies.py): photos of the library and edited copies of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pixseek.errors import PathNotFoundError, QueryError
from pixseek.photos.formats import IMAGE_SUFFIXES
from pixseek.quality.metrics import Judged


@dataclass(frozen=True)
class EvalQuery:
    """One query. id: the query image's document key (a picture never finds itself), or
    "text:N". group: what the per-group figures name it by (a transform, "original", a
    labelled group's kind)."""

    id: str
    kind: Literal["text", "image"]
    relevant: dict[str, int]
    junk: frozenset[str] = frozenset()
    text: str | None = None
    image: Path | None = None
    group: str = ""

    def judged(self) -> Judged:
        return Judged(self.id, self.relevant, self.junk)


@dataclass
class EvalSet:
    """Images (each a document, keyed by its path as a string) and queries. distractors: how
    many of the library's own photos may join the corpus, by their stored vectors (0: none)."""

    name: str
    images: list[Path]
    queries: list[EvalQuery]
    distractors: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def doc_key(path: Path) -> str:
    return str(path.resolve())


def labelled_folder(root: Path) -> EvalSet:
    """One subfolder per group; each picture of a group of two or more queries for the others."""
    if not root.is_dir():
        raise PathNotFoundError(f"no such folder: {root}")
    images: list[Path] = sorted(p for p in root.iterdir() if _is_image(p))
    queries: list[EvalQuery] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        members = sorted(p for p in folder.rglob("*") if _is_image(p))
        images += members
        if len(members) < 2:
            continue
        for member in members:
            others = {doc_key(p): 1 for p in members if p != member}
            key = doc_key(member)
            queries.append(EvalQuery(key, "image", others, image=member, group="image"))
    if not queries:
        raise QueryError(f"{root} has no subfolder with two or more pictures: nothing to ask")
    return EvalSet(f"labelled folder {root}", images, queries)


def queries_file(path: Path, corpus: Iterable[Path] = ()) -> EvalSet:
    """Queries from JSON Lines; the corpus is every picture they name, plus the pictures in
    the corpus folders given."""
    if not path.is_file():
        raise PathNotFoundError(f"no such file: {path}")
    base = path.parent
    queries: list[EvalQuery] = []
    named: dict[str, Path] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            query = _query_line(line, number, base, named)
            queries.append(query)
    images = list(named.values())
    for folder in corpus:
        images += sorted(p for p in folder.rglob("*") if _is_image(p))
    unique = list({doc_key(p): p for p in images}.values())
    return EvalSet(f"queries {path}", unique, queries)


def _query_line(line: str, number: int, base: Path, named: dict[str, Path]) -> EvalQuery:
    where = f"line {number}"
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise QueryError(f"{where}: not JSON: {exc}") from None
    if not isinstance(item, dict) or ("text" in item) == ("image" in item):
        raise QueryError(f'{where}: give one of "text" or "image"')
    relevant = _grades(item.get("relevant"), where)
    if not relevant:
        raise QueryError(f'{where}: "relevant" names no picture')
    keys = {doc_key(_path(p, base, where, named)): g for p, g in relevant.items()}
    junk = frozenset(doc_key(_path(p, base, where, named)) for p in item.get("junk") or [])
    if "text" in item:
        text = str(item["text"])
        return EvalQuery(f"text:{number}", "text", keys, junk, text=text, group="text")
    image = _path(item["image"], base, where, named)
    return EvalQuery(doc_key(image), "image", keys, junk, image=image, group="image")


def _grades(value: Any, where: str) -> dict[str, int]:
    if isinstance(value, list):
        return {str(p): 1 for p in value}
    if isinstance(value, dict):
        try:
            return {str(p): int(g) for p, g in value.items()}
        except (TypeError, ValueError):
            raise QueryError(f'{where}: "relevant" grades must be whole numbers') from None
    raise QueryError(f'{where}: "relevant" must be a list of paths or {{path: grade}}')


def _path(value: Any, base: Path, where: str, named: dict[str, Path]) -> Path:
    path = Path(str(value)).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise PathNotFoundError(f"{where}: no such picture: {path}")
    named.setdefault(doc_key(path), path)
    return path


def _is_image(path: Path) -> bool:
    return (
        path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
    )
