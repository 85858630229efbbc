"""The run history of schedules (``schedule_runs``): one row per run, the newest ``MAX_RUNS_KEPT`` kept per schedule,
removed with its schedule.

Each schedule that has run gets its last run (``schedules.last_*``) as its first row, its start and trigger unknown
(NULL); the ``last_*`` columns stay as they are.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["schedules.job_id"], name=op.f("fk_schedule_runs_job_id_schedules"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_runs")),
    )
    op.create_index(op.f("ix_schedule_runs_job_id"), "schedule_runs", ["job_id"])
    op.execute(
        "INSERT INTO schedule_runs (job_id, started_at, finished_at, status, reason, case_id, trigger) "
        "SELECT job_id, NULL, last_run, last_status, last_reason, last_case_id, NULL FROM schedules "
        "WHERE last_run IS NOT NULL AND last_status IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("schedule_runs")
