"""A Qdrant server through qdrant-client: a collection per model behind one alias (layout),
the retrying client, snapshots for backups, and its filters."""
