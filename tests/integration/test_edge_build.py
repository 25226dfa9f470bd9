"""Building the HNSW aside: searches keep answering, writes made meanwhile survive the swap."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import numpy as np

from pixseek.index.base import IndexPoint, SearchFilters
from pixseek.index.edge import EdgeIndex

DIM = 64
VECTOR = "v"


def points(start: int, count: int, tag: str = "first") -> list[IndexPoint]:
    rng = np.random.default_rng(start)
    vectors = rng.normal(size=(count, DIM)).astype(np.float32)
    return [
        IndexPoint(
            str(uuid.UUID(int=start + i)), {VECTOR: vectors[i]}, {"tag": tag, "n": start + i}
        )
        for i in range(count)
    ]


def filled(path: Path, count: int) -> EdgeIndex:
    index = EdgeIndex(path, build_aside=True, indexing_threshold_kb=1000)
    index.ensure_vector(VECTOR, DIM)
    for start in range(0, count, 2000):
        index.upsert(points(start, min(2000, count - start)))
    return index


def small_vectors(ids: range, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {str(uuid.UUID(int=i)): rng.normal(size=8).astype(np.float32) for i in ids}


def test_searches_answer_and_writes_survive_while_the_hnsw_builds_aside(tmp_path: Path) -> None:
    index = filled(tmp_path / "index", 30_000)
    index.ensure_vector("old-model", 8)
    index.update_vectors("old-model", small_vectors(range(5), 1))
    build = threading.Thread(target=index.optimize)
    build.start()
    answered = 0
    query = np.random.default_rng(1).normal(size=DIM).astype(np.float32)
    while build.is_alive() and answered < 50:
        assert len(index.search(VECTOR, query, SearchFilters(), limit=5)) == 5
        answered += 1
    # written while the child process builds: must be in the swapped-in shard
    index.upsert(points(100_000, 10, tag="during"))
    index.set_payload(str(uuid.UUID(int=7)), {"tag": "changed"})
    index.delete([str(uuid.UUID(int=8))])
    # a model switch meanwhile: a vector space added and filled, another one dropped
    index.ensure_vector("new-model", 8)
    index.update_vectors("new-model", small_vectors(range(20, 25), 2))
    index.drop_vector("old-model")
    assert build.is_alive(), "the writes should land during the build"
    build.join()
    assert answered >= 5, "searches should not wait for the HNSW build"

    assert index.count() == 30_000 + 10 - 1
    assert index.retrieve([str(uuid.UUID(int=7))])[0].payload["tag"] == "changed"
    assert index.retrieve([str(uuid.UUID(int=8))]) == []
    assert len(index.retrieve([str(uuid.UUID(int=100_000 + i)) for i in range(10)])) == 10
    assert index._require().info().indexed_vectors_count >= 30_000 - 1
    assert index.vector_names() == {VECTOR: DIM, "new-model": 8}
    switched = index.retrieve([str(uuid.UUID(int=20))], vector="new-model")
    written = small_vectors(range(20, 21), 2)[switched[0].id]
    np.testing.assert_allclose(switched[0].vector, written / np.linalg.norm(written), atol=1e-5)
    assert not (tmp_path / "index.old").exists() and not (tmp_path / "index.building").exists()
    index.close()


def test_an_interrupted_swap_restores_the_complete_shard(tmp_path: Path) -> None:
    complete = filled(tmp_path / "index.old", 30)
    complete.close()
    partial = filled(tmp_path / "index", 10)
    partial.close()
    reopened = EdgeIndex(tmp_path / "index")
    assert reopened.count() == 30
    assert not (tmp_path / "index.old").exists()
    reopened.close()
