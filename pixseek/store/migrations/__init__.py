"""The store's schema history: Alembic migrations, run by pixseek/store/schema.py."""
