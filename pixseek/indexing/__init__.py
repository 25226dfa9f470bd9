"""Indexing: files into points (hash, decode once, metadata, thumbnails, embed, upsert),
the catalog written after the index."""
