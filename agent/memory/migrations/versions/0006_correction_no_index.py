"""Whether a correction keeps its case out of experience (``corrections.no_index``: ``bianque correct --no-index``,
the API's ``index: false``): a case whose latest correction says so is not indexed, and neither ``knowledge
distill`` nor the ranking's lessons use it.

Existing rows get false: a correction stored before this migration counts as experience, as it did.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("corrections") as batch:
        batch.add_column(sa.Column("no_index", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("corrections") as batch:
        batch.drop_column("no_index")
