"""assessment: scoring schemes (versions), closed assessments, points awarded for quality and bonus items

Revision ID: 0009
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from duban.engine.store.types import Instant

revision = '0009'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'scheme_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scheme_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
        sa.Column('source_text', sa.Text(), nullable=False),
        sa.Column('source_name', sa.String(length=300), nullable=False),
        sa.Column('loaded_at', Instant(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('scheme_id', 'digest'),
        sa.UniqueConstraint('scheme_id', 'version'),
    )
    op.create_index('ix_scheme_version_scheme_id', 'scheme_version', ['scheme_id'], unique=False)
    op.create_table(
        'assessment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scheme_id', sa.String(length=64), nullable=False),
        sa.Column('scheme_version_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('changed_at', Instant(timezone=True), nullable=False),
        sa.Column('changed_by', sa.String(length=64), nullable=False),
        sa.Column('results', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['scheme_version_id'], ['scheme_version.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('scheme_id', 'unit_id', 'year', name='uq_assessment_identity'),
    )
    op.create_table(
        'score_award',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scheme_id', sa.String(length=64), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('item', sa.String(length=64), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=True),
        sa.Column('points', sa.Float(), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('awarded_by', sa.String(length=64), nullable=False),
        sa.Column('awarded_at', Instant(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['task_id'], ['task.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_score_award_scheme_year', 'score_award', ['scheme_id', 'year', 'unit_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_score_award_scheme_year', table_name='score_award')
    op.drop_table('score_award')
    op.drop_table('assessment')
    op.drop_index('ix_scheme_version_scheme_id', table_name='scheme_version')
    op.drop_table('scheme_version')
