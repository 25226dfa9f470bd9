"""What the library holds among the photos passing some filters, with how many photos hold each
value: cameras (make, then model), folders (a tree under each library root), file types,
years and months, and places when the index has them. The filter controls offer these values,
so nothing has to be typed blind.

Each facet counts with every filter but its own (a camera chosen still lists the other cameras,
counted within the other filters), as shops' faceted search does. One answer costs a few facet
calls, two by_date reads and a count a year and a month; it is kept for FACETS_TTL seconds per
index and filters, and read again as soon as the index holds another number of photos.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from pixseek.index.base import PAYLOAD_INDEXES, SearchFilters, VectorIndex
from pixseek.search.folders import resolve_folder_names, shared_names

FACETS_TTL = 30.0
MAX_CACHED = 64  # answers kept: filters people try, per index
MAX_VALUES = 100  # values a facet answers at most (the most photos first)
MAX_CAMERA_KEYS = 2000  # camera keys read to pair each model with its make
MAX_FOLDERS = 5000  # folders read to build the tree
MAX_YEARS = 30  # the newest years counted, with their months
PLACE_FIELDS = ("country", "region", "city")  # shown when the index has keyword indexes for them


@dataclass(frozen=True)
class Value:
    value: str  # as the photos spell it, and as a filter takes it
    photos: int


@dataclass(frozen=True)
class Camera:
    name: str  # the make, or a model as the camera shows it: "Canon EOS 5D", "FUJIFILM X-T3"
    filter: str  # the camera filter that chooses it (lower-case, as typed in the camera box)
    photos: int
    models: list[Camera] = field(default_factory=list)  # a model's own list is empty


@dataclass(frozen=True)
class Folder:
    name: str  # the folder's own name
    path: str  # the absolute path
    # a folder filter that chooses it and no other folder: the root's name and the path below
    # it, or the absolute path when another folder has the root's name (two roots "photos")
    filter: str
    photos: int  # photos in it and below it
    folders: list[Folder] = field(default_factory=list)


@dataclass(frozen=True)
class Period:
    period: str  # "2021" or "2021-06"
    photos: int
    months: list[Period] = field(default_factory=list)  # a month's own list is empty


@dataclass(frozen=True)
class Facets:
    photos: int  # photos passing every filter
    cameras: list[Camera]
    folders: list[Folder]
    formats: list[Value]
    years: list[Period]
    places: dict[str, list[Value]]  # field (country, region, city) -> values; fields indexed


def facets(index: VectorIndex, filters: SearchFilters, roots: list[str]) -> Facets:
    """The facets of the photos passing filters (cached, see the module's docstring); roots:
    the library's folders, each the top of one folder tree."""
    return _cache.get(index, resolve_folder_names(filters, index), tuple(roots))


def read_facets(index: VectorIndex, filters: SearchFilters, roots: tuple[str, ...]) -> Facets:
    """The facets, read from the index now."""
    places = {
        name: _values(index, name, replace(filters, places=()))
        for name in PLACE_FIELDS
        if PAYLOAD_INDEXES.get(name) == "keyword"
    }
    return Facets(
        photos=index.count(filters),
        cameras=cameras(index, replace(filters, cameras=())),
        folders=folder_trees(index, replace(filters, folders=()), roots),
        formats=_values(index, "format", replace(filters, formats=())),
        years=years(index, replace(filters, taken_from=None, taken_until=None)),
        places=places,
    )


def _values(index: VectorIndex, name: str, filters: SearchFilters) -> list[Value]:
    return [Value(value, photos) for value, photos in index.facet(name, filters, MAX_VALUES)]


def cameras(index: VectorIndex, filters: SearchFilters) -> list[Camera]:
    """Makes, most photos first, each with its models. Three facet calls, however many cameras:
    a model is paired with its make through camera_keys, which holds "make model" (or the model
    alone when it starts with the make) with the photos of that very pair."""
    makes = index.facet("camera_make", filters, MAX_VALUES)
    models = index.facet("camera_model", filters, MAX_VALUES * 4)
    keys = dict(index.facet("camera_keys", filters, MAX_CAMERA_KEYS))
    found = []
    for make, photos in makes:
        paired = [_paired(make, model, keys) for model, _ in models]
        found.append(Camera(make, _key(make), photos, [c for c in paired if c is not None]))
    return found


def _paired(make: str, model: str, keys: dict[str, int]) -> Camera | None:
    """The model as a camera of this make, if some photo has both; named as the camera shows
    it, "make model" or the model alone when it names its make ("Canon EOS 5D")."""
    make_key, model_key = _key(make), _key(model)
    pair = model_key if model_key.startswith(make_key + " ") else f"{make_key} {model_key}"
    if model_key == make_key or pair not in keys:
        return None
    shown = model if pair == model_key else f"{make} {model}"
    return Camera(shown, pair, keys[pair])


def _key(text: str) -> str:
    """A camera name as camera_keys holds it."""
    return " ".join(text.lower().split())


def folder_trees(
    index: VectorIndex, filters: SearchFilters, roots: tuple[str, ...]
) -> list[Folder]:
    """One tree per library root holding photos: the root, then its folders below."""
    counts = dict(index.facet("folders", filters, MAX_FOLDERS))
    children: dict[str, list[PurePosixPath]] = defaultdict(list)  # one pass, however deep
    for folder in sorted(counts):
        path = PurePosixPath(folder)
        if path.parent != path:
            children[str(path.parent)].append(path)
    shared = shared_names(index) if counts else set()
    trees = []
    for root in sorted(set(roots)):
        if root in counts:
            top = PurePosixPath(root)
            label = root if not top.name or top.name.lower() in shared else top.name
            trees.append(_folder(top, label, counts, children))
    return trees


def _folder(
    path: PurePosixPath,
    label: str,
    counts: dict[str, int],
    children: dict[str, list[PurePosixPath]],
) -> Folder:
    return Folder(
        path.name or str(path),
        str(path),
        label,
        counts[str(path)],
        [
            _folder(child, f"{label.rstrip('/')}/{child.name}", counts, children)
            for child in children.get(str(path), [])
        ],
    )


def years(index: VectorIndex, filters: SearchFilters) -> list[Period]:
    """The years with photos, newest first (at most MAX_YEARS), each with its months: counts
    between the newest and the oldest photo, a year's months only when it has photos."""
    newest = index.by_date(filters, newest_first=True, limit=1)
    oldest = index.by_date(filters, newest_first=False, limit=1)
    if not newest or not oldest:
        return []
    last = int(str(newest[0].payload["taken_at"])[:4])
    first = max(int(str(oldest[0].payload["taken_at"])[:4]), last - MAX_YEARS + 1)
    found = []
    for year in range(last, first - 1, -1):
        photos = index.count(_between(filters, f"{year:04d}-01", f"{year + 1:04d}-01"))
        if photos:
            found.append(Period(f"{year:04d}", photos, _months(index, filters, year)))
    return found


def _months(index: VectorIndex, filters: SearchFilters, year: int) -> list[Period]:
    found = []
    for month in range(12, 0, -1):
        start = f"{year:04d}-{month:02d}"
        end = f"{year + month // 12:04d}-{month % 12 + 1:02d}"
        photos = index.count(_between(filters, start, end))
        if photos:
            found.append(Period(start, photos))
    return found


def _between(filters: SearchFilters, start: str, end: str) -> SearchFilters:
    """filters limited to photos taken from the month start until the month end (excluded)."""
    return replace(filters, taken_from=f"{start}-01T00:00:00", taken_until=f"{end}-01T00:00:00")


class _Cache:
    """Answers per index and filters, read again after FACETS_TTL seconds or once the index
    holds another number of photos; at most MAX_CACHED, the oldest dropped first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # by the index itself, not its id(): a closed index's id may name the next one
        self._answers: weakref.WeakKeyDictionary[
            VectorIndex, dict[tuple[object, ...], tuple[float, Facets]]
        ] = weakref.WeakKeyDictionary()

    def get(self, index: VectorIndex, filters: SearchFilters, roots: tuple[str, ...]) -> Facets:
        key = (filters, roots, index.count())
        with self._lock:
            read_at, answer = self._answers.get(index, {}).get(key, (-FACETS_TTL, None))
        if answer is not None and time.monotonic() - read_at < FACETS_TTL:
            return answer
        answer = read_facets(index, filters, roots)
        with self._lock:
            answers = self._answers.setdefault(index, {})
            answers.pop(key, None)
            answers[key] = (time.monotonic(), answer)
            while len(answers) > MAX_CACHED:
                answers.pop(next(iter(answers)))
        return answer


_cache = _Cache()
