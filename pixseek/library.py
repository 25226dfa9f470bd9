"""A library: the data directory's lock, catalog, index and model, opened and closed together."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from pixseek.catalog import Catalog
from pixseek.index import VectorIndex, open_index
from pixseek.lock import DataDirLock
from pixseek.settings import Settings

if TYPE_CHECKING:
    from embed.model import Embedder


class Library:
    """Resources of one data directory. The model loads on first use, not on open."""

    def __init__(self, settings: Settings, serving: bool = False) -> None:
        self.settings = settings
        self.serving = serving
        self._lock = DataDirLock(settings.data_dir)
        self._catalog: Catalog | None = None
        self._index: VectorIndex | None = None
        self._embedder: Embedder | None = None

    def open(self) -> Library:
        if self.settings.index_is_exclusive:
            self._lock.acquire()
        try:
            self._catalog = Catalog(self.settings.catalog_path)
            self._index = open_index(self.settings, self.serving)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None
        self._lock.release()

    @property
    def catalog(self) -> Catalog:
        assert self._catalog is not None, "open() the library first"
        return self._catalog

    @property
    def index(self) -> VectorIndex:
        assert self._index is not None, "open() the library first"
        return self._index

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from embed.model import Embedder  # torch loads here, only when something embeds

            self._embedder = Embedder(
                self.settings.model_spec,
                device=self.settings.device,
                precision=self.settings.precision,
                cache_dir=str(self.settings.model_cache_dir)
                if self.settings.model_cache_dir
                else None,
            )
        return self._embedder

    def stats(self) -> dict[str, Any]:
        """Counts and configuration, for `pixseek stats`."""
        counts = self.catalog.status_counts()
        return {
            "data_dir": str(self.settings.data_dir),
            "backend": "qdrant-server" if self.settings.qdrant_url else "qdrant-edge",
            "model": str(self.settings.model_spec),
            "model_id": self.settings.model_spec.model_id,
            "vectors": self.index.vector_names(),
            "points": self.index.count(),
            "files_indexed": counts.get("indexed", 0),
            "files_failed": counts.get("failed", 0),
            "files_queued": counts.get("pending", 0),
            "files_deleted": counts.get("excluded", 0),
        }

    def __enter__(self) -> Library:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
