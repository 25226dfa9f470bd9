"""pixseek: self-hosted image search. The core: settings, catalog, index, ingest and search."""

__version__ = "0.1.0"
