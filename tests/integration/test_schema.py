"""The migrations: an empty database upgrades to head, matches the models, and upgrading again is a no-op."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from duban.engine.store.models import metadata
from duban.engine.store.schema import current_revision, head_revision, upgrade


def test_head_matches_the_models(db: Engine) -> None:
    assert current_revision(db) == head_revision()
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_upgrade_is_idempotent(db: Engine) -> None:
    assert upgrade(db) == (head_revision(), head_revision())


def test_a_database_at_0001_upgrades_and_downgrades(db: Engine) -> None:
    """Each migration runs both ways on a live schema, so a deployment at any revision can move."""
    from alembic import command
    from sqlalchemy import inspect

    from duban.engine.store.schema import alembic_config

    def indexes() -> dict[str, list[str | None]]:
        return {ix["name"]: ix["column_names"] for ix in inspect(db).get_indexes("task") if ix["name"]}

    config = alembic_config(db.url.render_as_string(hide_password=False))
    with db.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    assert current_revision(db) == "0001"
    assert (
        indexes()["ix_task_next_action_at"] == ["next_action_at"] and "ix_task_provisional" not in indexes()
    )
    assert upgrade(db) == ("0001", head_revision())
    assert (
        indexes()["ix_task_next_action_at"] == ["next_action_at", "id"] and "ix_task_provisional" in indexes()
    )
