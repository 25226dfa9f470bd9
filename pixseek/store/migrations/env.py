"""Alembic's environment: migrations run on the connection pixseek hands over (one
transaction, see pixseek/store/schema.py), never on a URL of their own."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=True, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
