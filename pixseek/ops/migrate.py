"""Moving an embedded library's index to a Qdrant server without embedding anything again:
every photo the catalog lists is copied with its vector and payload."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from more_itertools import chunked

from pixseek.errors import IndexBackendError
from pixseek.index.base import IndexPoint, VectorIndex
from pixseek.photos.identity import point_id
from pixseek.store.catalog import Catalog
from pixseek.store.modelstate import ModelState, model_id

BATCH = 256


@dataclass(frozen=True)
class MigrationReport:
    vector: str
    copied: int
    missing: int  # listed by the catalog, absent from the source index
    target_points: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def copy_index(
    catalog: Catalog,
    state: ModelState,
    source: VectorIndex,
    target: VectorIndex,
) -> MigrationReport:
    """Copy the active model's vectors, with payloads, of every photo the catalog says is
    indexed. Points are keyed by content hash, so running it again after an interruption
    copies the rest and changes nothing else."""
    state.refuse_while_switching("move the index")
    vector = model_id(state.active)
    sizes = source.vector_names()
    if vector not in sizes:
        raise IndexBackendError(f"the embedded index holds no {vector} vectors: nothing to copy")
    target.ensure_vector(vector, sizes[vector])
    ids = sorted({point_id(sha) for sha in catalog.shas_indexed_with(vector)})
    copied = 0
    for batch in chunked(ids, BATCH):
        found = source.retrieve(batch, vector=vector)
        points = [
            IndexPoint(p.id, {vector: p.vector}, p.payload) for p in found if p.vector is not None
        ]
        target.upsert(points)
        copied += len(points)
    target.set_active_vector(vector)
    return MigrationReport(vector, copied, len(ids) - copied, target.count())
