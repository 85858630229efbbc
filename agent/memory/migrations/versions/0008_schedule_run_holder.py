"""The holder of a run in a schedule's history (``schedule_runs.holder``): a run is recorded ``running`` when it starts,
naming the run claim that holds it (``host:pid:token``), so a run whose process died is found and marked failed
instead of vanishing.

Existing rows get NULL: they finished before runs were recorded as they started.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("schedule_runs") as batch:
        batch.add_column(sa.Column("holder", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedule_runs") as batch:
        batch.drop_column("holder")
