"""Operations on a whole library: backup and restore, and moving the embedded index to a
Qdrant server (migrate)."""
