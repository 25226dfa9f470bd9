"""Pairs of photos a person marked "not duplicates" (pixseek/quality/marks.py): never proposed
as duplicates again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "distinct_pairs",
        sa.Column("a", sa.Text, primary_key=True),  # the smaller photo id of the pair
        sa.Column("b", sa.Text, primary_key=True),
        sa.Column("marked_at", sa.Float(53), nullable=False),
    )
