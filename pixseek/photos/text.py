"""The words a photo can be found by, from its payload, and the sparse vector they index as.

Each word is tagged with where it came from (name, folder, keyword, caption, place, text), so a
search result can say what matched. Words are hashed to sparse-vector indices here, in the
client, so Qdrant Edge, a Qdrant server and qdrant-client's local mode index them alike; the
vector space's IDF modifier weighs rare words up at query time (BM25-like).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import PurePath
from typing import Any, NamedTuple

TEXT_VECTOR = "text"  # the sparse vector's name, beside each model's dense vector
SOURCES = ("name", "folder", "keyword", "caption", "place", "text")  # the order results name them
FOLDER_DEPTH = 3  # the innermost folders of each path whose names are words of the photo
SATURATION = 1.2  # BM25's k1: a word's weight grows with its count, up to k1 + 1
# payload keys holding words, and the source each is reported as
FIELD_SOURCES: dict[str, str] = {
    "title": "caption",
    "description": "caption",
    "artist": "caption",
    "keywords": "keyword",
    "city": "place",
    "region": "place",
    "country": "place",
    "ocr_text": "text",
}
# payload keys whose change changes the words (path_fields writes paths and filename)
TEXT_KEYS = frozenset(FIELD_SOURCES) | {"paths", "filename"}
_WORD = re.compile(r"[^\W_]+")
_PARTS = re.compile(r"\d+|[^\W\d_]+")


class Word(NamedTuple):
    token: str
    source: str


class TextVector(NamedTuple):
    """A sparse vector: hashed word indices and their weights."""

    indices: list[int]
    values: list[float]


def tokens(text: str) -> list[str]:
    """The search tokens of a piece of text: each word, lower-cased, split where letters meet
    digits, and each run of joined words kept whole too (`IMG_2041` -> img, 2041, img_2041)."""
    found: list[str] = []
    for whole, parts in _chunks(text):
        found += parts
        if len(parts) > 1:
            found.append(whole)
    return found


def _chunks(text: str) -> list[tuple[str, list[str]]]:
    """Each whitespace-separated run of the text, lower-cased, with the words it splits into."""
    chunks = []
    for chunk in unicodedata.normalize("NFKC", text).lower().split():
        parts = [part for word in _WORD.findall(chunk) for part in _PARTS.findall(word)]
        whole = chunk.strip(".,;:!?\"'()[]{}")
        if parts and whole:
            chunks.append((whole, parts))
    return chunks


def photo_words(payload: dict[str, Any]) -> list[Word]:
    """Every word of a photo with its source: file names (without extension), the names of
    the innermost folders of each path, and the words in FIELD_SOURCES's payload keys."""
    words = [Word(t, "name") for name in _file_names(payload) for t in tokens(name)]
    words += [Word(t, "folder") for name in _folder_names(payload) for t in tokens(name)]
    for key, source in FIELD_SOURCES.items():
        words += [Word(t, source) for value in _texts(payload.get(key)) for t in tokens(value)]
    return words


def text_vector(payload: dict[str, Any]) -> TextVector:
    """The photo's sparse text vector: one index per distinct word, weighted by a saturating
    count (BM25's term frequency part; the index adds the IDF)."""
    counts = Counter(word.token for word in photo_words(payload))
    return _vector(counts)


def query_vector(text: str) -> TextVector:
    """The sparse vector of a query: each distinct token once."""
    return _vector(Counter(set(tokens(text))))


def matched_sources(payload: dict[str, Any], text: str) -> list[str]:
    """The sources of the photo's words that hold a word of the query, in SOURCES order. A
    query word counts whole, or by every part it splits into: `photo005` matches photo005.jpg,
    not photo003.jpg (which shares only "photo"); `tokyo-2019` matches tokyo-2019-03."""
    held: dict[str, set[str]] = {}
    for word in photo_words(payload):
        held.setdefault(word.source, set()).add(word.token)
    chunks = _chunks(text)
    return [
        source
        for source in SOURCES
        if any(_holds(held.get(source, set()), chunk) for chunk in chunks)
    ]


def coverage(payload: dict[str, Any], text: str) -> float:
    """The share of the query's words the photo holds, each counted as matched_sources counts
    it (whole or by all its parts, from any source): 1.0 for `tokyo 2019` on tokyo-2019-03."""
    chunks = _chunks(text)
    if not chunks:
        return 0.0
    held = {word.token for word in photo_words(payload)}
    return sum(_holds(held, chunk) for chunk in chunks) / len(chunks)


def _holds(words: set[str], chunk: tuple[str, list[str]]) -> bool:
    whole, parts = chunk
    return whole in words or set(parts) <= words


def _vector(counts: Counter[str]) -> TextVector:
    weights: dict[int, float] = {}
    for token, count in counts.items():
        index = token_index(token)
        weights[index] = weights.get(index, 0.0) + count
    indices = sorted(weights)
    values = [_saturated(weights[i]) for i in indices]
    return TextVector(indices, values)


def _saturated(count: float) -> float:
    return (SATURATION + 1) * count / (SATURATION + count)


def token_index(token: str) -> int:
    """A token's sparse index: 32 bits of its BLAKE2 hash (stable across processes)."""
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "big")


def _file_names(payload: dict[str, Any]) -> Iterator[str]:
    """Each file name with its extension and without (`IMG_2041.jpg` and `IMG_2041`)."""
    files = {PurePath(str(p)).name for p in payload.get("paths") or []}
    if payload.get("filename"):
        files.add(PurePath(str(payload["filename"])).name)
    return iter(sorted(files | {PurePath(name).stem for name in files}))


def _folder_names(payload: dict[str, Any]) -> Iterator[str]:
    names: set[str] = set()
    for path in payload.get("paths") or []:
        parents = PurePath(str(path)).parent.parts[1:]  # the root (/ or C:\) is no word
        names.update(parents[-FOLDER_DEPTH:])
    return iter(sorted(names))


def _texts(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v]
    return []
