"""a task's own and its children's progress kept apart, what of it counts upward, and when it began waiting for approval

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from duban.engine.store.types import Instant

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: a batch copy of `task` would trip the keys other tables hold on it.
    op.add_column("task", sa.Column("progress_own", sa.Float(), nullable=False, server_default="0"))
    op.add_column("task", sa.Column("progress_children", sa.Float(), nullable=False, server_default="0"))
    op.add_column("task", sa.Column("progress_approved", sa.Float(), nullable=False, server_default="0"))
    op.add_column("task", sa.Column("waiting_since", Instant(timezone=True), nullable=True))
    # Until now `progress` was the unit's own reports; finished tasks' progress had counted upward.
    op.execute("UPDATE task SET progress_own = progress")
    op.execute("UPDATE task SET progress_approved = progress WHERE state = 'done'")


def downgrade() -> None:
    for column in ("waiting_since", "progress_approved", "progress_children", "progress_own"):
        op.execute(f"ALTER TABLE task DROP COLUMN {column}")
