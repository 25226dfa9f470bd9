"""A worker's claim on a queued file lasts until `lease_until` (renewed while it works): once
that has passed, any worker may take the file, so files a lost worker held are processed
without waiting for it to come back."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("files", sa.Column("lease_until", sa.Float(53)))
