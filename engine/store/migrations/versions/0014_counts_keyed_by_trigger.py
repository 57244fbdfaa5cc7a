"""task counts keyed by trigger instead of escalation; escalated and target tasks read through partial indexes

An escalation no longer moves count rows (the sweep keeps no counts), and a report of one
period reads the counts (the tasks triggered in it). The table is rebuilt from the tasks,
which also compacts it; downgrading rebuilds the 0011 table the same way.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op
from duban.engine.store.types import Instant

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

# The counts of every stored task under every unit strictly above its own (the rule of
# engine/store/counts.py at each revision, frozen here): grouped by parent, then spread upward.
_BACKFILL = """
INSERT INTO task_count (node, assignment_id, period, {key}, state, overdue_at, late, n, progress, target, targeted)
WITH RECURSIVE depths(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM depths WHERE k < 51),
g AS (
    SELECT substr(u.path, 1, length(u.path) - 5) AS parent, t.assignment_id, t.period, {value} AS {key},
           t.state, t.overdue_at,
           CASE WHEN t.state = 'done' AND t.finished_at >= t.overdue_at THEN true ELSE false END AS late,
           count(*) AS n, coalesce(sum(t.progress), 0.0) AS progress, coalesce(sum(t.target), 0.0) AS target,
           count(t.target) AS targeted
    FROM task t JOIN unit u ON u.id = t.unit_id
    WHERE u.depth > 0
    GROUP BY 1, 2, 3, 4, 5, 6, 7
)
SELECT substr(g.parent, 1, d.k * 5), g.assignment_id, g.period, g.{key}, g.state, g.overdue_at, g.late,
       sum(g.n), sum(g.progress), sum(g.target), sum(g.targeted)
FROM g JOIN depths d ON d.k * 5 <= length(g.parent)
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""
BY_TRIGGER = _BACKFILL.format(key="trigger_at", value="t.trigger_at")
BY_ESCALATION = _BACKFILL.format(
    key="escalated", value="CASE WHEN t.escalation_level > 0 THEN true ELSE false END"
)


def _count_table(key: sa.Column) -> None:
    op.create_table('task_count',
    sa.Column('node', sa.String(length=255).with_variant(sa.String(length=255, collation='C'), 'postgresql'), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    key,
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('overdue_at', Instant(timezone=True), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('target', sa.Float(), nullable=False),
    sa.Column('targeted', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], ),
    sa.PrimaryKeyConstraint('node', 'assignment_id', 'period', key.name, 'state', 'overdue_at', 'late')
    )
    op.create_index('ix_task_count_empty', 'task_count', ['node'], unique=False,
                    sqlite_where=sa.text('n = 0'), postgresql_where=sa.text('n = 0'))


def _drop_count_table() -> None:
    op.drop_index('ix_task_count_empty', table_name='task_count')
    op.drop_table('task_count')


def upgrade() -> None:
    _drop_count_table()
    _count_table(sa.Column('trigger_at', Instant(timezone=True), nullable=False))
    op.execute(BY_TRIGGER)
    op.create_index('ix_task_escalated', 'task', ['unit_id', 'assignment_id', 'trigger_at'], unique=False,
                    sqlite_where=sa.text('escalation_level > 0'), postgresql_where=sa.text('escalation_level > 0'))
    op.create_index('ix_task_targeted', 'task', ['unit_id', 'assignment_id'], unique=False,
                    sqlite_where=sa.text('target IS NOT NULL'), postgresql_where=sa.text('target IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_task_targeted', table_name='task')
    op.drop_index('ix_task_escalated', table_name='task')
    _drop_count_table()
    _count_table(sa.Column('escalated', sa.Boolean(), nullable=False))
    op.execute(BY_ESCALATION)
