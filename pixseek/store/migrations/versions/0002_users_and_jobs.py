"""Users, API tokens, login sessions and the embedded mode's jobs join the catalog in one
database (before: users.sqlite3 and jobs.sqlite3 beside it). In a data directory that has
those files, their rows are copied in and the files renamed `*.merged`."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _create_users()
    _create_jobs()
    config = op.get_context().config
    data_dir: Path | None = config.attributes.get("data_dir") if config else None
    if data_dir is not None:
        _merge(data_dir / "users.sqlite3", ["users", "tokens", "sessions"])
        _merge(data_dir / "jobs.sqlite3", ["jobs", "job_failures"])


def _create_users() -> None:
    role = "role IN ('viewer', 'admin')"
    op.create_table(
        "users",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float(53), nullable=False),
        sa.Column("disabled", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint(role, name="users_role"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("user_name", sa.Text, _owner(), nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", sa.Float(53), nullable=False),
        sa.Column("last_used_at", sa.Float(53)),
        sa.CheckConstraint(role, name="tokens_role"),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.Text, primary_key=True),
        sa.Column("user_name", sa.Text, _owner(), nullable=False),
        sa.Column("created_at", sa.Float(53), nullable=False),
        sa.Column("last_seen_at", sa.Float(53), nullable=False),
        sa.Column("expires_at", sa.Float(53), nullable=False),
        sa.Column("user_agent", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
    )
    op.create_index("sessions_by_user", "sessions", ["user_name"])
    op.create_index("sessions_by_expiry", "sessions", ["expires_at"])


def _owner() -> sa.ForeignKey:
    """The user a row belongs to: it goes when the user goes."""
    return sa.ForeignKey("users.name", ondelete="CASCADE")


def _create_jobs() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("planned", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cancel_requested", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.Float(53), nullable=False),
        sa.Column("started_at", sa.Float(53)),
        sa.Column("finished_at", sa.Float(53)),
    )
    op.create_index("jobs_by_time", "jobs", ["created_at"])
    op.create_table(
        "job_failures",
        sa.Column("job_id", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("job_failures_job", "job_failures", ["job_id"])


def _merge(legacy: Path, tables: list[str]) -> None:
    """Copy the rows of a pre-0002 SQLite file's tables (the columns both have) into the new
    tables, then rename the file so it is never merged twice."""
    if not legacy.is_file():
        return
    source = sqlite3.connect(legacy)
    try:
        for table in tables:
            _copy_table(source, table)
    finally:
        source.close()
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{legacy}{suffix}")
        if part.exists():
            part.rename(f"{part}.merged")


def _copy_table(source: sqlite3.Connection, table: str) -> None:
    if not source.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone():
        return  # an older file: sessions came later
    columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
    target = sa.table(table, *[sa.column(name) for name in columns])
    rows: list[dict[str, Any]] = [
        dict(zip(columns, row, strict=True))
        for row in source.execute(f"SELECT {', '.join(columns)} FROM {table}")
    ]
    if rows:
        op.get_bind().execute(sa.insert(target), rows)
