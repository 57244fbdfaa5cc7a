"""Events accept only what can be true: a person of the unit when the event is about one, never far ahead.

People drive events too: an appointment, a birthday, a committee's term end, each posted once where heard.
An event's tasks name what it is about: the person, or the words it was posted with.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from duban.engine.access.actors import OPERATOR
from duban.engine.errors import InvalidInput
from duban.engine.language.loader import load_paths, parse_definition
from duban.engine.org.people import import_people
from duban.engine.org.units import import_units
from duban.engine.overview.tasks import TaskFilter, list_tasks, show_task
from duban.engine.periodic import run_periodic
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Audit, PersonEvent, Task
from duban.engine.work import fanout
from duban.engine.work.catalog import store_definitions
from duban.engine.work.person_events import post_people_events

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

INCIDENT = """
id: test-incident
title: 群体性事件报告
title_en: Incident report
source: 测试
applies_to: {levels: [grassroots]}
trigger: {event: incident.reported}
due: {after: PT24H}
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
        loaded += [parse_definition(INCIDENT, "i.yaml")]
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


def test_an_events_tasks_are_named_by_the_person_or_by_the_label_never_the_bare_id(
    world: Engine, replay
) -> None:  # type: ignore[no-untyped-def]
    assign(world, replay, "test-incident")
    assign(world, replay, "test-training")
    with write_session(world) as s:
        (incident,) = fanout.post_event(
            s,
            replay.rt,
            OPERATOR,
            "incident.reported",
            "G01",
            subject="incident-7",
            label="某电子厂欠薪集体反映",
        )
        (bare,) = fanout.post_event(s, replay.rt, OPERATOR, "incident.reported", "G03", subject="incident-8")
        (cadre,) = fanout.post_event(s, replay.rt, OPERATOR, "cadre.appointed", "G01", subject="P1")
    with read_session(world) as s:
        listed = list_tasks(s, replay.rt.now(), replay.rt.tz, OPERATOR, TaskFilter(unit="C01", subtree=True))
        names = {t["id"]: t["subject_name"] for t in listed["items"]}
        shown = {
            i: show_task(s, replay.rt.tz, OPERATOR, i).get("subject_name") for i in (incident, bare, cadre)
        }
    assert names[incident] == shown[incident] == "某电子厂欠薪集体反映"
    assert names[cadre] == shown[cadre] == "张三"
    # Posted without words, the subject's id is all there is (the page shows it as it was given).
    assert names[bare] is None and shown[bare] is None


def test_an_event_label_with_a_control_character_is_refused_and_changes_nothing(
    world: Engine, replay
) -> None:  # type: ignore[no-untyped-def]
    assign(world, replay, "test-incident")
    refused = pytest.raises(InvalidInput, match=r"event: label: contains the control character U\+001B")
    with refused, write_session(world) as s:
        fanout.post_event(
            s, replay.rt, OPERATOR, "incident.reported", "G01", subject="i-1", label="欠薪\x1b[31m"
        )
    assert tasks(world) == [] and audits(world, "event.posted") == 0


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


def test_an_appointment_posts_once_and_again_when_it_changes(world: Engine, replay, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = assign(world, replay, "test-training")
    path = tmp_path / "cadres.csv"
    path.write_text(
        "id,name,unit_code,kind,appointed_on\nC1,王五,G01,cadre,2026-02-20\nC2,赵六,G02,cadre,2020-01-01\n",
        encoding="utf-8",
    )
    for _ in range(2):
        with write_session(world) as s:
            import_people(s, replay.rt.now(), OPERATOR, path)
            post_people_events(s, replay.rt)
    (task,) = tasks(world, Task.assignment_id == a)  # C2's appointment is six years old: history
    assert (task.subject, task.period) == ("C1", "2026-02-20")
    assert audits(world, "event.posted") == 1
    path.write_text("id,name,unit_code,kind,appointed_on\nC1,王五,G01,cadre,2026-02-25\n", encoding="utf-8")
    with write_session(world) as s:
        import_people(s, replay.rt.now(), OPERATOR, path)
    run_periodic(world, replay.rt)
    assert [t.period for t in tasks(world, Task.assignment_id == a)] == ["2026-02-20", "2026-02-25"]
    assert audits(world, "event.posted") == 2


def test_nothing_is_posted_where_no_assignment_listens(world: Engine, replay, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "cadres.csv"
    path.write_text("id,name,unit_code,kind,appointed_on\nC1,王五,G01,cadre,2026-02-20\n", encoding="utf-8")
    with write_session(world) as s:
        import_people(s, replay.rt.now(), OPERATOR, path)
        assert post_people_events(s, replay.rt) == 0
    assert audits(world, "event.posted") == 0
    a = assign(world, replay, "test-training")  # an assignment made later still hears of it
    run_periodic(world, replay.rt)
    assert [t.subject for t in tasks(world, Task.assignment_id == a)] == ["C1"]


def test_a_birthday_posts_once_a_year_from_the_periodic_job(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    a = assign(world, replay, "test-birthday")
    run_periodic(world, replay.rt)  # 03-02: P1's birthday (03-05) has not come
    assert tasks(world, Task.assignment_id == a) == []
    replay.at("2026-03-06T09:00")  # a day late: the job catches up
    run_periodic(world, replay.rt)
    run_periodic(world, replay.rt)
    (task,) = tasks(world, Task.assignment_id == a)
    assert (task.subject, task.period) == ("P1", "2026-03-05")
    replay.at("2027-03-05T09:00")
    run_periodic(world, replay.rt)
    assert [t.period for t in tasks(world, Task.assignment_id == a)] == ["2026-03-05", "2027-03-05"]
    with read_session(world) as s:
        keys = sorted(s.scalars(select(PersonEvent.key)))
    assert keys == ["member.birthday:P1:2026", "member.birthday:P1:2027"]


def test_a_committee_term_end_posts_the_re_election(world: Engine, replay, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = assign(world, replay, "test-re-election")
    path = tmp_path / "terms.csv"
    path.write_text(
        'code,name,parent_code,level,attrs\nG01,华达电子有限公司工会,T01,grassroots,"{""elected_on"": ""2021-05-20"", ""term_years"": 5}"\n',
        encoding="utf-8",
    )
    with write_session(world) as s:
        import_units(s, replay.rt.now(), OPERATOR, path)
    run_periodic(world, replay.rt)  # 2026-03-02: the term ends 2026-05-20; notice from 02-20
    run_periodic(world, replay.rt)
    (task,) = tasks(world, Task.assignment_id == a)
    assert task.period == "2026-02-20"
    assert task.due_at.astimezone(replay.rt.tz).date() == date(2026, 5, 20)
    assert audits(world, "event.posted") == 1


def test_the_people_import_command_posts_appointments(db_url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from duban.cli.main import app

    def duban(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(app, ["--db", db_url, "--now", "2026-03-02T10:00+08:00", *args])

    assert duban("units", "import", str(FIXTURES / "tree.csv")).exit_code == 0
    assert duban("definitions", "load", str(FIXTURES / "defs")).exit_code == 0
    assert duban("assign", "test-training", "--scope", "C01").exit_code == 0
    path = tmp_path / "cadres.csv"
    path.write_text("id,name,unit_code,kind,appointed_on\nC1,王五,G01,cadre,2026-02-20\n", encoding="utf-8")
    first = duban("people", "import", str(path))
    assert first.exit_code == 0, first.output
    assert "people: 1 created, 0 updated, 0 unchanged, 1 events posted" in first.output
    again = duban("people", "import", str(path))
    assert "people: 0 created, 0 updated, 1 unchanged\n" in again.output
    listed = duban("tasks", "list", "--unit", "G01", "--json")
    assert [t["subject"] for t in __import__("json").loads(listed.stdout)["items"]] == ["C1"]


@pytest.mark.parametrize(
    ("born", "year", "kept"),
    [
        (date(1980, 2, 29), 2027, date(2027, 2, 28)),
        (date(1980, 2, 29), 2028, date(2028, 2, 29)),
        (date(1990, 7, 1), 2026, date(2026, 7, 1)),
    ],
)
def test_a_leap_day_birthday_is_kept_on_28_february_in_a_common_year(
    born: date, year: int, kept: date
) -> None:
    from duban.engine.work.person_events import _anniversary

    assert _anniversary(born, year) == kept
