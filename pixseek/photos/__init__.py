"""Photos as files: finding them (scan), what they say of themselves (metadata), their
ids and payloads (identity), thumbnails, uploads, serving originals safely, and the
decode-ahead helpers the indexer and the backfill share (pipeline)."""
