"""Which Qdrant server collection holds which model's vectors, and the alias searches go through.

A server collection cannot gain a named vector, so each model gets a collection of its own,
`<name>-<model id>`, and the alias `<name>` points at the one searches use. A model switch fills
a second collection and moves the alias in one atomic call. A collection named `<name>` itself
(made before models had collections of their own, or by hand) keeps serving the models it holds
until a switch drops it; only then can `<name>` become the alias.
"""

from __future__ import annotations

import logging

from qdrant_client import QdrantClient, models

log = logging.getLogger(__name__)


class CollectionLayout:
    """Names and the alias of one pixseek index on a server; reads the server when asked."""

    def __init__(self, client: QdrantClient, name: str) -> None:
        self.client = client
        self.name = name
        self._legacy: dict[str, int] | None = None  # vectors of a collection named `name`
        self._legacy_known = False

    def refresh(self) -> None:
        """Look at the server again (the older collection may have been made or dropped)."""
        self._legacy_known = False

    def legacy_vectors(self) -> dict[str, int] | None:
        """The named vectors of a real collection called `name`, or None when there is none.

        Remembered: pixseek never makes such a collection, it only drops one."""
        if not self._legacy_known:
            self._legacy = None
            if self.name in self._real_collections():
                self._legacy = vector_sizes(self.client, self.name)
            self._legacy_known = True
        return self._legacy

    def collection_for(self, vector: str) -> str:
        """The collection that holds (or will hold) this model's vectors."""
        legacy = self.legacy_vectors()
        return self.name if legacy is not None and vector in legacy else f"{self.name}-{vector}"

    def collections(self) -> dict[str, str]:
        """Every model's collection on the server now: vector name -> collection."""
        found: dict[str, str] = {}
        prefix = f"{self.name}-"
        for collection in self._real_collections():
            if collection.startswith(prefix):
                found[collection[len(prefix) :]] = collection
        for vector in self.legacy_vectors() or {}:
            found[vector] = self.name
        return found

    def active(self) -> str | None:
        """The collection searches use: the alias's, else the older collection, else none."""
        target = self._alias_target()
        if target is not None:
            return target
        return self.name if self.legacy_vectors() is not None else None

    def point_alias_at(self, vector: str) -> None:
        """Move the alias to this model's collection, atomically (delete and create in one
        call). Not while an older collection holds the name: that waits for its drop."""
        collection = self.collection_for(vector)
        if self.legacy_vectors() is not None:
            log.info("collection %r is not an alias yet; it becomes one when dropped", self.name)
            return
        operations: list[models.AliasOperations] = []
        if self._alias_target() is not None:
            delete = models.DeleteAlias(alias_name=self.name)
            operations.append(models.DeleteAliasOperation(delete_alias=delete))
        create = models.CreateAlias(collection_name=collection, alias_name=self.name)
        operations.append(models.CreateAliasOperation(create_alias=create))
        self.client.update_collection_aliases(change_aliases_operations=operations)

    def _alias_target(self) -> str | None:
        for alias in self.client.get_aliases().aliases:
            if alias.alias_name == self.name:
                return str(alias.collection_name)
        return None

    def _real_collections(self) -> list[str]:
        return [c.name for c in self.client.get_collections().collections]


def vector_sizes(client: QdrantClient, collection: str) -> dict[str, int]:
    """The named vectors of a collection, with their sizes."""
    vectors = client.get_collection(collection).config.params.vectors
    if not isinstance(vectors, dict):
        return {}
    return {name: int(params.size) for name, params in vectors.items()}
