"""definitions keep the union that published them; assignments keep the plan they were made with

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('definition_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_unit_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_definition_version_owner_unit_id'), ['owner_unit_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_definition_version_owner_unit_id_unit'), 'unit', ['owner_unit_id'], ['id']
        )
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plan_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_assignment_plan_id'), ['plan_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignment_plan_id'))
        batch_op.drop_column('plan_id')
    with op.batch_alter_table('definition_version', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_definition_version_owner_unit_id_unit'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_definition_version_owner_unit_id'))
        batch_op.drop_column('owner_unit_id')
