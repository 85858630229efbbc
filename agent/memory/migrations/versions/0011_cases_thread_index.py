"""An index on ``cases.thread_id``: the UI finds the case a reloaded page's question ran on by its checkpoint thread
(``Memory.case_of_thread``), which scanned the whole cases table.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_cases_thread_id"), "cases", ["thread_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cases_thread_id"), table_name="cases")
