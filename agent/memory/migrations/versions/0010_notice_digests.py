"""The digest of alerts judged not needing attention (``notice_digests``): the tick of its cron some process claimed,
so replicas post each digest once, and up to when what it lists was delivered.

Starts empty: the first digest lists the day before it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notice_digests",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("claimed_tick", sa.Float(), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("told_until", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_notice_digests")),
    )


def downgrade() -> None:
    op.drop_table("notice_digests")
