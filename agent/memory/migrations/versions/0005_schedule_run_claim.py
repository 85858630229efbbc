"""The run claim of a schedule: which process runs it now and until when its lease holds, so two runs of one
schedule (a scheduled one and `schedule run`, or two replicas) never overlap.

Existing rows get NULL: no run holds them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(sa.Column("running_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("running_since", sa.Float(), nullable=True))
        batch.add_column(sa.Column("running_until", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.drop_column("running_until")
        batch.drop_column("running_since")
        batch.drop_column("running_by")
