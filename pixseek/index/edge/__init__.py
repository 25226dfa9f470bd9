"""Qdrant Edge: the embedded index (one process's files in DATA_DIR/index), its filters, and
its HNSW built aside in a child process."""
