"""Facets on a real Edge shard: cameras paired make -> model, folders as trees under the library
roots, years and months, places, and a shard made before a field was indexed."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from pixseek.index.base import IndexPoint, SearchFilters
from pixseek.index.edge.shard import EdgeIndex
from pixseek.search.facets import Camera, Folder, Period, Value, read_facets

VECTOR = "clip"


def photo(seed: int, path: str, make: str, model: str, taken: str, **more: Any) -> IndexPoint:
    keys = [" ".join(make.lower().split()), " ".join(model.lower().split())]
    pair = keys[1] if keys[1].startswith(keys[0] + " ") else f"{keys[0]} {keys[1]}"
    parents = [str(p) for p in Path(path).parents]
    payload = {
        "paths": [path], "folders": parents, "format": "jpeg", "taken_at": taken,
        "camera_make": make, "camera_model": model, "camera_keys": [*keys, pair], **more,
    }  # fmt: skip
    vector = np.random.default_rng(seed).normal(size=4).astype(np.float32)
    return IndexPoint(str(uuid.uuid5(uuid.NAMESPACE_OID, path)), {VECTOR: vector}, payload)


PHOTOS = [
    photo(1, "/lib/trips/2019/a.jpg", "NIKON CORPORATION", "NIKON D750", "2019-03-02T10:00:00",
          city="Tokyo", country="Japan"),
    photo(2, "/lib/trips/b.jpg", "NIKON CORPORATION", "NIKON D750", "2019-12-31T23:59:59",
          city="Tokyo", country="Japan"),
    photo(3, "/lib/home/c.jpg", "Canon", "Canon EOS 5D", "2021-06-01T00:00:00"),
    photo(4, "/other/d.jpg", "Canon", "Canon EOS 5D", "2021-06-30T12:00:00"),
]  # fmt: skip


def test_facets_pair_models_with_makes_and_build_folder_trees(tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path / "shard")
    index.ensure_vector(VECTOR, 4)
    index.upsert(PHOTOS)
    found = read_facets(index, SearchFilters(), ("/lib",))
    assert found.photos == 4
    assert sorted(found.cameras, key=lambda camera: camera.name) == [
        Camera("Canon", "canon", 2, [Camera("Canon EOS 5D", "canon eos 5d", 2)]),
        Camera("NIKON CORPORATION", "nikon corporation", 2, [
            Camera("NIKON CORPORATION NIKON D750", "nikon corporation nikon d750", 2)
        ]),
    ]  # fmt: skip
    assert found.folders == [
        Folder("lib", "/lib", "lib", 3, [
            Folder("home", "/lib/home", "lib/home", 1),
            Folder("trips", "/lib/trips", "lib/trips", 2, [
                Folder("2019", "/lib/trips/2019", "lib/trips/2019", 1),
            ]),
        ])
    ]  # fmt: skip
    assert found.years == [
        Period("2021", 2, [Period("2021-06", 2)]),
        Period("2019", 2, [Period("2019-12", 1), Period("2019-03", 1)]),
    ]
    assert found.places["city"] == [Value("Tokyo", 2)]
    nikon = read_facets(index, SearchFilters(cameras=("nikon corporation nikon d750",)), ("/lib",))
    assert nikon.photos == 2 and nikon.formats == [Value("jpeg", 2)]
    assert [c.photos for c in nikon.cameras] == [2, 2], "the camera facet ignores its own filter"
    assert nikon.folders[0].photos == 2 and [y.period for y in nikon.years] == ["2019"]
    index.close()


def test_a_root_whose_name_another_folder_has_offers_absolute_paths(tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path / "shard")
    index.ensure_vector(VECTOR, 4)
    index.upsert([
        photo(1, "/home/a/photos/2019/a.jpg", "Canon", "Canon EOS 5D", "2019-03-02T10:00:00"),
        photo(2, "/home/b/photos/2019/b.jpg", "Canon", "Canon EOS 5D", "2019-03-02T10:00:00"),
        photo(3, "/srv/pictures/c.jpg", "Canon", "Canon EOS 5D", "2019-03-02T10:00:00"),
    ])  # fmt: skip
    roots = ("/home/a/photos", "/home/b/photos", "/srv/pictures")
    trees = read_facets(index, SearchFilters(), roots).folders
    assert [(t.filter, [c.filter for c in t.folders]) for t in trees] == [
        ("/home/a/photos", ["/home/a/photos/2019"]),  # "photos/2019" would choose both
        ("/home/b/photos", ["/home/b/photos/2019"]),
        ("pictures", []),
    ]
    chosen = read_facets(index, SearchFilters(folders=("/home/a/photos/2019",)), roots)
    assert chosen.photos == 1
    index.close()


def test_a_shard_made_before_a_field_was_indexed_gets_its_index_when_opened(
    tmp_path: Path,
) -> None:
    index = EdgeIndex(tmp_path / "shard")
    index.ensure_vector(VECTOR, 4)
    index.upsert(PHOTOS)
    shard = index._shard
    assert shard is not None
    shard.update(qe.UpdateOperation.delete_field_index("camera_model"))
    assert "camera_model" not in shard.info().payload_schema
    index.flush()
    index.close()
    reopened = EdgeIndex(tmp_path / "shard")
    assert dict(reopened.facet("camera_model")) == {"NIKON D750": 2, "Canon EOS 5D": 2}
    reopened.close()
