"""the sweep's indexes: due tasks in (next_action_at, id) order; the tasks timed on a provisional calendar

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_task_next_action_at', table_name='task')
    op.create_index('ix_task_next_action_at', 'task', ['next_action_at', 'id'], unique=False)
    op.create_index('ix_task_provisional', 'task', ['id'], unique=False,
                    sqlite_where=sa.text('calendar_provisional = 1'), postgresql_where=sa.text('calendar_provisional'))


def downgrade() -> None:
    op.drop_index('ix_task_provisional', table_name='task')
    op.drop_index('ix_task_next_action_at', table_name='task')
    op.create_index('ix_task_next_action_at', 'task', ['next_action_at'], unique=False)
