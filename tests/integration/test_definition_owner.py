"""Definitions belong to the union that published them: only its admins, or those above, publish a new version."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from duban.engine.access.accounts import add_account
from duban.engine.access.actors import OPERATOR, actor_for
from duban.engine.errors import Forbidden
from duban.engine.language.loader import load_paths, parse_definition
from duban.engine.org.units import import_units
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import DefinitionVersion, Unit
from duban.engine.work.catalog import store_definitions

FIXTURES = Path(__file__).parent.parent / "fixtures"
ITEM = "id: county-item\ntitle: 县工会自定事项\ntrigger: assigned\ndue: {{after: P{days}D}}\n"


@pytest.fixture
def world(db: Engine, replay) -> Engine:  # type: ignore[no-untyped-def]
    with write_session(db) as s:
        now = replay.rt.now()
        import_units(s, now, OPERATOR, FIXTURES / "tree.csv")
        store_definitions(s, now, OPERATOR, load_paths([FIXTURES / "defs"]))
        for code in ("C01", "K01", "K02", "T01", "G01"):
            add_account(s, now, OPERATOR, f"{code.lower()}-admin", code, "admin", "password123")
        add_account(s, now, OPERATOR, "k01-staff", "K01", "staff", "password123")
    return db


def publish(db: Engine, rt, who: str, text: str) -> list[str]:  # type: ignore[no-untyped-def]
    with write_session(db) as s:
        actor = OPERATOR if who == "operator" else actor_for(s, who)
        return [r.status for r in store_definitions(s, rt.now(), actor, [parse_definition(text, "x.yaml")])]


def versions(db: Engine, def_id: str) -> list[tuple[int, str | None]]:
    with read_session(db) as s:
        rows = s.execute(
            select(DefinitionVersion.version, Unit.code)
            .outerjoin(Unit, Unit.id == DefinitionVersion.owner_unit_id)
            .where(DefinitionVersion.def_id == def_id)
            .order_by(DefinitionVersion.version)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_the_operator_loads_for_the_root(world: Engine) -> None:
    assert versions(world, "test-congress") == [(1, "C01")]


def test_a_new_definition_belongs_to_its_publisher_and_only_it_or_those_above_change_it(
    world: Engine, replay
) -> None:  # type: ignore[no-untyped-def]
    assert publish(world, replay.rt, "k01-admin", ITEM.format(days=10)) == ["new"]
    for below_or_aside in ("t01-admin", "g01-admin", "k02-admin"):
        with pytest.raises(Forbidden, match="county-item"):
            publish(world, replay.rt, below_or_aside, ITEM.format(days=1))
    with pytest.raises(Forbidden, match="admin"):
        publish(world, replay.rt, "k01-staff", ITEM.format(days=1))
    assert versions(world, "county-item") == [(1, "K01")]
    # Its own admins and the city above publish; the owner stays the county.
    assert publish(world, replay.rt, "k01-admin", ITEM.format(days=20)) == ["updated"]
    assert publish(world, replay.rt, "c01-admin", ITEM.format(days=30)) == ["updated"]
    assert versions(world, "county-item") == [(1, "K01"), (2, "K01"), (3, "K01")]


def test_a_grassroots_admin_cannot_rewrite_the_citys_item(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    text = (FIXTURES / "defs" / "congress.yaml").read_text(encoding="utf-8")
    changed = text.replace("approval: [parent, issuer]", "approval: []")
    assert changed != text
    with pytest.raises(Forbidden, match="test-congress"):
        publish(world, replay.rt, "g01-admin", changed)
    assert versions(world, "test-congress") == [(1, "C01")]


def test_one_refused_definition_stores_none_of_the_upload(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    with read_session(world) as s:
        before = s.scalar(select(func.count()).select_from(DefinitionVersion))
    text = (FIXTURES / "defs" / "congress.yaml").read_text(encoding="utf-8").replace("06-30", "07-31")
    with pytest.raises(Forbidden), write_session(world) as s:
        loaded = [parse_definition(ITEM.format(days=5), "a.yaml"), parse_definition(text, "b.yaml")]
        store_definitions(s, replay.rt.now(), actor_for(s, "t01-admin"), loaded)
    with read_session(world) as s:
        assert s.scalar(select(func.count()).select_from(DefinitionVersion)) == before


def test_a_definition_stored_before_owners_is_the_top_level_unions(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    with write_session(world) as s:
        s.execute(update(DefinitionVersion).values(owner_unit_id=None))
    text = (FIXTURES / "defs" / "congress.yaml").read_text(encoding="utf-8").replace("06-30", "07-31")
    with pytest.raises(Forbidden, match="top-level"):
        publish(world, replay.rt, "k01-admin", text)
    assert publish(world, replay.rt, "c01-admin", text) == ["updated"]


def test_the_operator_may_hand_a_definition_to_another_owner(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    text = (FIXTURES / "defs" / "congress.yaml").read_text(encoding="utf-8").replace("06-30", "07-31")
    with write_session(world) as s:
        store_definitions(s, replay.rt.now(), OPERATOR, [parse_definition(text, "c.yaml")], owner_code="K02")
    assert versions(world, "test-congress") == [(1, "C01"), (2, "K02")]
    assert publish(world, replay.rt, "k02-admin", text.replace("07-31", "08-31")) == ["updated"]
