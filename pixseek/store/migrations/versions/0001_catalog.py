"""The catalog as the first release kept it (catalog.sqlite3): library files, library folders,
the model state. A catalog made before schema versions is stamped with this revision once it
has these columns (pixseek/store/schema.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("model_id", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("job_id", sa.Text),
        sa.Column("claimed_by", sa.Text),
        sa.Column("claimed_at", sa.Float(53)),
        sa.Column("queued_from", sa.Text),
        sa.Column("queued_from_size", sa.BigInteger),
        sa.Column("queued_from_mtime_ns", sa.BigInteger),
        sa.CheckConstraint(
            "status IN ('indexed', 'failed', 'pending', 'excluded')", name="files_status"
        ),
    )
    op.create_index("files_sha256", "files", ["sha256"])
    op.create_index(
        "files_pending", "files", ["status", "job_id"],
        sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"),
    )  # fmt: skip
    op.create_index("files_job", "files", ["job_id", "status"])
    op.create_table(
        "roots",
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("added_at", sa.Text, nullable=False),
    )
    op.create_table(
        "model_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("active", sa.Text, nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("job_id", sa.Text),
        sa.Column("retired", sa.Text),
        sa.Column("configured", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.CheckConstraint("id = 1", name="model_state_one_row"),
    )
