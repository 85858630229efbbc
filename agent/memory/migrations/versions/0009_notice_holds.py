"""The news each origin last told by a notification (``notice_holds``): a repeat of it within
``BIANQUE_NOTIFY_REPEAT_S`` is held back by every process sharing the database, and after a restart (it was held in
each process's memory).

Starts empty: a process upgraded posts its first news once more.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notice_holds",
        sa.Column("origin_key", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("signature_key", sa.String(length=64), nullable=False),
        sa.Column("told_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("origin_key", name=op.f("pk_notice_holds")),
    )
    op.create_index(op.f("ix_notice_holds_told_at"), "notice_holds", ["told_at"])


def downgrade() -> None:
    op.drop_table("notice_holds")
