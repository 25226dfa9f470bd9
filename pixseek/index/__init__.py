"""Vector index backends behind one interface: Qdrant Edge (embedded) or a Qdrant server."""

from __future__ import annotations

from pixseek.index.base import (
    EDGE_BACKEND,
    SERVER_BACKEND,
    Hit,
    IndexPoint,
    IndexTuning,
    SearchFilters,
    StoredPoint,
    VectorIndex,
)
from pixseek.settings import Settings

__all__ = [
    "Hit", "IndexPoint", "IndexTuning", "SearchFilters", "StoredPoint", "VectorIndex",
    "backend_name", "open_index", "tuning_from",
]  # fmt: skip


def backend_name(settings: Settings) -> str:
    """The index backend these settings open: the Qdrant server or the embedded Edge shard."""
    return SERVER_BACKEND if settings.qdrant_url else EDGE_BACKEND


def tuning_from(settings: Settings) -> IndexTuning:
    return IndexTuning(
        m=settings.hnsw_m,
        ef_construct=settings.hnsw_ef_construct,
        ef=settings.hnsw_ef,
        quantization=settings.quantization,
    )


def open_index(settings: Settings, serving: bool = False) -> VectorIndex:
    """The server backend when PIXSEEK_QDRANT_URL is set, else the embedded Edge shard.

    serving: this process answers searches while it writes, so the embedded shard builds its
    HNSW aside instead of freezing the process."""
    if settings.qdrant_url:
        from pixseek.index.server.client import connect
        from pixseek.index.server.collection import QdrantServerIndex
        from pixseek.index.server.snapshots import SnapshotTransfer

        return QdrantServerIndex(
            connect(settings),
            settings.qdrant_collection,
            tuning_from(settings),
            SnapshotTransfer.from_settings(settings),
        )
    from pixseek.index.edge.shard import EdgeIndex

    settings.index_dir.mkdir(parents=True, exist_ok=True)
    return EdgeIndex(settings.index_dir, tuning_from(settings), build_aside=serving)
