"""Events accept only what can be true: a person of the unit when the event is about one, never far ahead."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from duban.engine.access.actors import OPERATOR
from duban.engine.errors import InvalidInput
from duban.engine.language.loader import load_paths, parse_definition
from duban.engine.org.people import import_people
from duban.engine.org.units import import_units
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Audit, Task
from duban.engine.work import fanout
from duban.engine.work.catalog import store_definitions

FIXTURES = Path(__file__).parent.parent / "fixtures"

BIRTHDAY = """
id: test-birthday
title: 会员生日慰问
source: 测试
applies_to: {levels: [grassroots]}
trigger: {event: member.birthday}
due: {after: P7D}
"""

TERM = """
id: test-re-election
title: 换届选举
source: 测试
applies_to: {levels: [grassroots]}
trigger: {event: committee.term_expiring}
due: {after: P3M}
"""


@pytest.fixture
def world(db: Engine, replay, tmp_path: Path):  # type: ignore[no-untyped-def]
    with write_session(db) as s:
        now = replay.rt.now()
        import_units(s, now, OPERATOR, FIXTURES / "tree.csv")
        loaded = load_paths([FIXTURES / "defs"])
        loaded += [
            parse_definition(
                BIRTHDAY.replace("title: 会员生日慰问", "title: 会员生日慰问\ntitle_en: Birthday"), "b.yaml"
            )
        ]
        loaded += [
            parse_definition(
                TERM.replace("title: 换届选举", "title: 换届选举\ntitle_en: Re-election"), "t.yaml"
            )
        ]
        store_definitions(s, now, OPERATOR, loaded)
        path = tmp_path / "people.csv"
        path.write_text(
            "id,name,unit_code,kind,appointed_on,birthday\nP1,张三,G01,member,,1980-03-05\nP2,李四,G03,member,,\n",
            encoding="utf-8",
        )
        import_people(s, now, OPERATOR, path)
    return db


def tasks(db: Engine, *where) -> list[Task]:  # type: ignore[no-untyped-def]
    with read_session(db) as s:
        return list(s.scalars(select(Task).where(*where).order_by(Task.id)))


def audits(db: Engine, action: str) -> int:
    with read_session(db) as s:
        return s.scalar(select(func.count()).select_from(Audit).where(Audit.action == action)) or 0


def assign(db: Engine, replay, def_id: str) -> int:  # type: ignore[no-untyped-def]
    with write_session(db) as s:
        return fanout.assign_definition(s, replay.rt, OPERATOR, def_id, "C01").assignment_id


@pytest.mark.parametrize(
    ("subject", "unit", "message"),
    [
        ("P999", "G01", "event: subject: 'P999' is not a person of G01"),
        ("P2", "G01", "event: subject: 'P2' is not a person of G01"),  # a person of another unit
        ("", "G01", "event: subject: required"),
    ],
)
def test_an_event_about_a_person_names_one_of_the_unit(
    world: Engine, replay, subject: str, unit: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    assign(world, replay, "test-training")
    with pytest.raises(InvalidInput) as refused, write_session(world) as s:
        fanout.post_event(s, replay.rt, OPERATOR, "cadre.appointed", unit, subject=subject)
    assert str(refused.value).startswith(message)
    assert tasks(world) == [] and audits(world, "event.posted") == 0
    with write_session(world) as s:
        assert len(fanout.post_event(s, replay.rt, OPERATOR, "cadre.appointed", "G01", subject="P1")) == 1


def test_an_event_not_about_a_person_takes_any_subject(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    with write_session(world) as s:
        assert fanout.post_event(s, replay.rt, OPERATOR, "incident.reported", "G01", subject="事故-1") == []
    assert audits(world, "event.posted") == 1


def test_an_event_more_than_a_day_ahead_is_refused(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    assign(world, replay, "test-training")
    ahead = replay.rt.now() + timedelta(days=1, minutes=1)
    with pytest.raises(InvalidInput, match="more than a day ahead"), write_session(world) as s:
        fanout.post_event(s, replay.rt, OPERATOR, "cadre.appointed", "G01", subject="P1", at=ahead)
    with write_session(world) as s:
        at = replay.rt.now() + timedelta(hours=20)
        assert (
            len(fanout.post_event(s, replay.rt, OPERATOR, "cadre.appointed", "G01", subject="P1", at=at)) == 1
        )
