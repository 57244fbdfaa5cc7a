"""Deadlines on the statutory calendar, end to end on SQLite and PostgreSQL: assign, preview, sweep."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from duban.cli.main import app
from duban.engine.access.actors import OPERATOR
from duban.engine.errors import InvalidInput
from duban.engine.followup.sweep import sweep_due
from duban.engine.language.loader import parse_definition
from duban.engine.org.units import import_units
from duban.engine.periodic import run_periodic
from duban.engine.runtime import Runtime
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Assignment, Audit, Task
from duban.engine.time.calendar import WorkCalendar, package_schedules
from duban.engine.work import fanout, lifecycle
from duban.engine.work.catalog import store_definitions

FIXTURES = Path(__file__).parent.parent / "fixtures"

HEAD = "title: 测试事项\ntitle_en: Test item\nsource: test\napplies_to: {levels: [grassroots]}\n"
DEFINITIONS = {
    "double-display": "trigger: assigned\ndue: {after: P3M}\nreminders: [P7D]\n"
    "escalation: [{after: P0D, to: parent}]\n",
    "double-display-kept": "trigger: assigned\ndue: {after: P3M}\non_rest_day: keep\n"
    "escalation: [{after: P0D, to: parent}]\n",
    "womens-day": 'trigger: {every: year}\ndue: {on: "03-08"}\nescalation: [{after: P0D, to: parent}]\n',
    "warmth": 'trigger: {every: year}\ndue: {on: "02-28"}\nescalation: [{after: P0D, to: parent}]\n',
    "womens-day-skip": 'trigger: {every: year}\ndue: {on: "03-08"}\nlate_assignment: skip\n'
    "escalation: [{after: P0D, to: parent}]\n",
    "appraisal": "trigger: assigned\ndue: set_at_assignment\n",
    "singers": "trigger: {every: year}\nwindow: first_half\n",
    "national-day": 'trigger: {every: year}\ndue: {on: "10-01"}\n',
    "second-half": "trigger: {every: year}\nwindow: second_half\n",
}


@pytest.fixture
def world(db: Engine, replay: Any) -> Engine:
    replay.at("2026-01-05T09:00")
    loaded = [
        parse_definition(f"id: {key}\n{HEAD}{body}", f"{key}.yaml") for key, body in DEFINITIONS.items()
    ]
    with write_session(db) as s:
        now = replay.rt.now()
        import_units(s, now, OPERATOR, FIXTURES / "tree.csv")
        store_definitions(s, now, OPERATOR, loaded)
    return db


def assign(db: Engine, replay: Any, def_id: str, **kw: Any) -> fanout.AssignResult:
    with write_session(db) as s:
        return fanout.assign_definition(s, replay.rt, OPERATOR, def_id, "C01", **kw)


def assign_with(db: Engine, rt: Runtime, def_id: str) -> fanout.AssignResult:
    with write_session(db) as s:
        return fanout.assign_definition(s, rt, OPERATOR, def_id, "C01")


def tasks_of(db: Engine, assignment_id: int) -> list[Task]:
    with read_session(db) as s:
        return list(s.scalars(select(Task).where(Task.assignment_id == assignment_id)))


def escalations(db: Engine, assignment_id: int) -> int:
    with read_session(db) as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(Audit)
                .where(Audit.assignment_id == assignment_id, Audit.action == "task.escalated")
            )
            or 0
        )


def local_day(replay: Any, instant: Any) -> date:
    return replay.rt.local(instant).date()


def test_a_deadline_in_the_qingming_break_moves_and_escalates_after_it(world: Engine, replay: Any) -> None:
    with read_session(world) as s:
        preview = fanout.preview_assignment(s, replay.rt, OPERATOR, "double-display", "C01")
    assert preview["timeline"]["due_moved_from"] == "2026-04-05"
    assert preview["timeline"]["due_at"] == "2026-04-07T23:59:59+08:00"
    moved = assign(world, replay, "double-display")
    kept = assign(world, replay, "double-display-kept")
    assert {local_day(replay, t.due_at) for t in tasks_of(world, moved.assignment_id)} == {date(2026, 4, 7)}
    assert {local_day(replay, t.due_at) for t in tasks_of(world, kept.assignment_id)} == {date(2026, 4, 5)}
    replay.at("2026-04-06T09:00")
    run_periodic(world, replay.rt)
    assert escalations(world, moved.assignment_id) == 0
    assert escalations(world, kept.assignment_id) == 4  # the four grassroots units, escalated in the break
    replay.at("2026-04-08T00:30")
    run_periodic(world, replay.rt)
    assert escalations(world, moved.assignment_id) == 4


@pytest.mark.parametrize("def_id", ["womens-day", "warmth"])
def test_assigned_after_its_date_nothing_is_born_overdue(world: Engine, replay: Any, def_id: str) -> None:
    replay.at("2026-03-12T10:00")  # the college plan's own date
    with read_session(world) as s:
        preview = fanout.preview_assignment(s, replay.rt, OPERATOR, def_id, "C01")
    assert preview["timeline"]["late_assignment"]["rule"] == "grace"
    result = assign(world, replay, def_id)
    assert result.late is not None and result.late["grace"] == "P30D"
    made = tasks_of(world, result.assignment_id)
    assert len(made) == 4
    # 30 days from 12 March is Saturday 11 April: Monday 13 April.
    assert {local_day(replay, t.due_at) for t in made} == {date(2026, 4, 13)}
    run_periodic(world, replay.rt)
    replay.at("2026-03-13T10:00")
    run_periodic(world, replay.rt)
    assert escalations(world, result.assignment_id) == 0
    replay.at("2026-04-14T00:30")
    run_periodic(world, replay.rt)
    assert escalations(world, result.assignment_id) == 4


def test_skip_opens_the_next_period_once(world: Engine, replay: Any) -> None:
    replay.at("2026-03-12T10:00")
    result = assign(world, replay, "womens-day-skip")
    assert result.period == "2027"
    assert {t.period for t in tasks_of(world, result.assignment_id)} == {"2027"}
    run_periodic(world, replay.rt)
    replay.at("2027-01-01T08:00")
    run_periodic(world, replay.rt)
    made = tasks_of(world, result.assignment_id)
    assert len(made) == 4 and {t.period for t in made} == {"2027"}
    assert escalations(world, result.assignment_id) == 0
    replay.at("2028-01-01T08:00")
    run_periodic(world, replay.rt)
    assert sorted({t.period for t in tasks_of(world, result.assignment_id)}) == ["2027", "2028"]


def test_an_assignments_late_rule_overrides_the_definitions(world: Engine, replay: Any) -> None:
    replay.at("2026-03-12T10:00")
    skipped = assign(world, replay, "womens-day", late=fanout.late_rule("skip"))
    assert skipped.period == "2027"
    short = assign(world, replay, "warmth", late=fanout.late_rule("grace:P10D"))
    made = tasks_of(world, short.assignment_id)
    # 22 March is a Sunday; the date is stored so the sweep re-times it the same way.
    assert {local_day(replay, t.due_at) for t in made} == {date(2026, 3, 23)}
    assert {t.due_explicit for t in made} == {date(2026, 3, 23)}
    replay.at("2026-03-23T20:00")
    run_periodic(world, replay.rt)
    assert escalations(world, short.assignment_id) == 0
    replay.at("2026-03-24T00:30")
    run_periodic(world, replay.rt)
    assert escalations(world, short.assignment_id) == 4
    with pytest.raises(InvalidInput) as refused:
        fanout.late_rule("grace:soon")
    assert refused.value.problems[0].field == "late"
    with pytest.raises(InvalidInput) as refused:
        assign(world, replay, "double-display", late=fanout.late_rule("skip"))
    assert "no fixed date" in refused.value.problems[0].message


def test_set_at_assignment_is_refused_without_a_date(world: Engine, replay: Any) -> None:
    replay.at("2026-03-12T10:00")
    with pytest.raises(InvalidInput) as refused:
        assign(world, replay, "appraisal")
    assert "择期" in refused.value.problems[0].message
    with read_session(world) as s:
        assert s.scalar(select(func.count()).select_from(Assignment)) == 0
    result = assign(world, replay, "appraisal", due=date(2026, 9, 30))
    assert {local_day(replay, t.due_at) for t in tasks_of(world, result.assignment_id)} == {date(2026, 9, 30)}


def test_a_window_sets_the_due_date(world: Engine, replay: Any) -> None:
    replay.at("2026-03-12T10:00")
    result = assign(world, replay, "singers")
    assert {local_day(replay, t.due_at) for t in tasks_of(world, result.assignment_id)} == {date(2026, 6, 30)}
    assert result.late is None


def test_work_of_a_later_window_is_not_handed_in_before_it_opens(world: Engine, replay: Any) -> None:
    replay.at("2026-03-12T10:00")
    result = assign(world, replay, "second-half")
    task = tasks_of(world, result.assignment_id)[0]
    with write_session(world) as s, pytest.raises(InvalidInput) as refused:
        lifecycle.submit_task(s, replay.rt, OPERATOR, task.id)
    assert refused.value.problems[0].field == "window" and "2026-07-01" in refused.value.problems[0].message
    with read_session(world) as s:
        assert s.get(Task, task.id).state == "open"
    replay.at("2026-07-01T09:00")
    with write_session(world) as s:
        assert lifecycle.submit_task(s, replay.rt, OPERATOR, task.id).state == "done"


def test_a_move_in_an_unknown_year_is_provisional_until_its_notice(
    world: Engine, replay: Any, tmp_path: Path
) -> None:
    through_2026 = {y: s for y, s in package_schedules().items() if y <= 2026}
    guessing = Runtime(
        clock=replay.clock, tz=replay.rt.tz, calendar=WorkCalendar.load(None, base=through_2026)
    )
    replay.at("2027-01-04T09:00")
    result = assign_with(world, guessing, "national-day")
    made = tasks_of(world, result.assignment_id)
    # By the law alone 10/1–10/3 are rest days and 10/4 is a Monday.
    assert {local_day(replay, t.due_at) for t in made} == {date(2027, 10, 4)}
    assert {t.calendar_provisional for t in made} == {True}
    notice = tmp_path / "calendar.yaml"
    days = ", ".join(f"2027-10-0{d}" for d in range(1, 8))
    notice.write_text(f"years:\n  2027:\n    holidays: [{days}]\n    workdays: [2027-10-09]\n")
    knowing = Runtime(
        clock=replay.clock, tz=replay.rt.tz, calendar=WorkCalendar.load(notice, base=through_2026)
    )
    assert sweep_due(world, knowing).provisional_recomputed == 4
    made = tasks_of(world, result.assignment_id)
    assert {local_day(replay, t.due_at) for t in made} == {date(2027, 10, 8)}
    assert {t.calendar_provisional for t in made} == {False}


# --- the command line ---------------------------------------------------------------------

runner = CliRunner()


def duban(db: Path, *args: str) -> Any:
    return runner.invoke(app, ["--db", f"sqlite:///{db}", *args])


def test_the_command_line_says_what_moved_and_what_passed(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    defs = tmp_path / "defs"
    defs.mkdir()
    for key, body in DEFINITIONS.items():
        (defs / f"{key}.yaml").write_text(f"id: {key}\n{HEAD}{body}", encoding="utf-8")
    assert duban(db, "init").exit_code == 0
    assert duban(db, "units", "import", str(FIXTURES / "tree.csv")).exit_code == 0
    assert duban(db, "definitions", "load", str(defs)).exit_code == 0

    shown = duban(db, "preview", "double-display", "--at", "2026-01-05T09:00+08:00")
    assert shown.exit_code == 0, shown.output
    assert "2026-04-05" in shown.output and "rest day" in shown.output
    data = json.loads(duban(db, "preview", "womens-day", "--at", "2026-03-12T10:00+08:00", "--json").stdout)
    assert data["late_assignment"] == {"rule": "grace", "grace": "P30D", "missed_due": "2026-03-08"}
    skipped = json.loads(
        duban(
            db, "preview", "womens-day", "--at", "2026-03-12T10:00+08:00", "--late", "skip", "--json"
        ).stdout
    )
    assert skipped["period"] == "2027" and skipped["due_at"].startswith("2027-03-08")

    now = ["--now", "2026-03-12T10:00+08:00"]
    refused = duban(db, *now, "assign", "appraisal", "--scope", "C01")
    assert refused.exit_code == 1 and "择期" in refused.output and "--due" in refused.output
    bad = duban(db, *now, "assign", "womens-day", "--scope", "C01", "--late", "later")
    assert bad.exit_code == 1 and "late" in bad.output
    made = duban(db, *now, "assign", "womens-day", "--scope", "C01", "--late", "grace:P10D")
    assert made.exit_code == 0, made.output
    assert "2026-03-08 had passed" in made.output and "2026-03-23" in made.output
