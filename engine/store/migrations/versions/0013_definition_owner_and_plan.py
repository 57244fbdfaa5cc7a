"""definitions keep the union that published them; assignments keep the plan they were made with

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


# Plain ADD COLUMN, not a batch copy: on SQLite a batch rebuilds the table, and dropping the
# old assignment table fails once task counts refer to it.
def upgrade() -> None:
    op.add_column('definition_version', sa.Column('owner_unit_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_definition_version_owner_unit_id'), 'definition_version', ['owner_unit_id'], unique=False)
    op.add_column('assignment', sa.Column('plan_id', sa.String(length=64), nullable=True))
    op.create_index(op.f('ix_assignment_plan_id'), 'assignment', ['plan_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_assignment_plan_id'), table_name='assignment')
    op.drop_column('assignment', 'plan_id')
    op.drop_index(op.f('ix_definition_version_owner_unit_id'), table_name='definition_version')
    op.drop_column('definition_version', 'owner_unit_id')
