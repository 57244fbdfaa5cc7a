"""task counts kept by the moves (engine/store/counts.py), filled from the tasks already stored

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op
from duban.engine.store.types import Instant

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# The counts of every stored task under every unit strictly above its own (the rule of
# engine/store/counts.py at this revision, frozen here): grouped by parent, then spread upward.
BACKFILL = """
INSERT INTO task_count (node, assignment_id, period, state, overdue_at, escalated, late, n, progress, target, targeted)
WITH RECURSIVE depths(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM depths WHERE k < 51),
g AS (
    SELECT substr(u.path, 1, length(u.path) - 5) AS parent, t.assignment_id, t.period, t.state, t.overdue_at,
           CASE WHEN t.escalation_level > 0 THEN true ELSE false END AS escalated,
           CASE WHEN t.state = 'done' AND t.finished_at >= t.overdue_at THEN true ELSE false END AS late,
           count(*) AS n, coalesce(sum(t.progress), 0.0) AS progress, coalesce(sum(t.target), 0.0) AS target,
           count(t.target) AS targeted
    FROM task t JOIN unit u ON u.id = t.unit_id
    WHERE u.depth > 0
    GROUP BY 1, 2, 3, 4, 5, 6, 7
)
SELECT substr(g.parent, 1, d.k * 5), g.assignment_id, g.period, g.state, g.overdue_at, g.escalated, g.late,
       sum(g.n), sum(g.progress), sum(g.target), sum(g.targeted)
FROM g JOIN depths d ON d.k * 5 <= length(g.parent)
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""


def upgrade() -> None:
    op.create_table('task_count',
    sa.Column('node', sa.String(length=255).with_variant(sa.String(length=255, collation='C'), 'postgresql'), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('overdue_at', Instant(timezone=True), nullable=False),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('target', sa.Float(), nullable=False),
    sa.Column('targeted', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], ),
    sa.PrimaryKeyConstraint('node', 'assignment_id', 'period', 'state', 'overdue_at', 'escalated', 'late')
    )
    op.create_index('ix_task_count_empty', 'task_count', ['node'], unique=False,
                    sqlite_where=sa.text('n = 0'), postgresql_where=sa.text('n = 0'))
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index('ix_task_count_empty', table_name='task_count')
    op.drop_table('task_count')
