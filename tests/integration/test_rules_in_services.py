"""The services enforce the rules themselves, whoever calls them (the API, the CLI, a script)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from duban.engine.access.accounts import add_account
from duban.engine.access.actors import OPERATOR, actor_for
from duban.engine.errors import Forbidden
from duban.engine.language.loader import load_paths
from duban.engine.org.units import import_units
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import DefinitionVersion, Unit
from duban.engine.work.catalog import store_definitions

FIXTURES = Path(__file__).parent.parent / "fixtures"
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def tree(db: Engine) -> Engine:
    with write_session(db) as s:
        import_units(s, NOW, OPERATOR, FIXTURES / "tree.csv")
        for role in ("admin", "staff", "viewer"):
            add_account(s, NOW, OPERATOR, f"k01-{role}", "K01", role, "password123")
    return db


def _count(db: Engine, model: type) -> int:
    with read_session(db) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize("role", ["staff", "viewer"])
def test_only_an_admin_imports_units(tree: Engine, tmp_path: Path, role: str) -> None:
    csv = tmp_path / "units.csv"
    csv.write_text("code,name,parent_code,level\nT09,新街道工会,K01,township\n", encoding="utf-8")
    before = _count(tree, Unit)
    with write_session(tree) as s, pytest.raises(Forbidden, match="only an admin may import units"):
        import_units(s, NOW, actor_for(s, f"k01-{role}"), csv)
    assert _count(tree, Unit) == before
    with write_session(tree) as s:
        assert import_units(s, NOW, actor_for(s, "k01-admin"), csv).created == 1


@pytest.mark.parametrize("role", ["staff", "viewer"])
def test_only_an_admin_stores_definitions(tree: Engine, role: str) -> None:
    loaded = load_paths([FIXTURES / "defs"])
    with write_session(tree) as s, pytest.raises(Forbidden, match="only an admin may upload definitions"):
        store_definitions(s, NOW, actor_for(s, f"k01-{role}"), loaded)
    assert _count(tree, DefinitionVersion) == 0
    with write_session(tree) as s:
        assert {r.status for r in store_definitions(s, NOW, actor_for(s, "k01-admin"), loaded)} == {"new"}
