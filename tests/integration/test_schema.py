"""The migrations: an empty database upgrades to head, matches the models, and upgrading again is a no-op."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from engine.models import metadata
from engine.schema import current_revision, head_revision, upgrade


def test_head_matches_the_models(db: Engine) -> None:
    assert current_revision(db) == head_revision()
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_upgrade_is_idempotent(db: Engine) -> None:
    assert upgrade(db) == (head_revision(), head_revision())
