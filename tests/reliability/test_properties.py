"""Property tests (hypothesis): the working-day arithmetic, and the task lifecycle under any sequence of moves."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_world import runs
from sqlalchemy import Engine, func, select

from duban.engine.access.accounts import add_account
from duban.engine.access.actors import OPERATOR, actor_for
from duban.engine.errors import Conflict, Forbidden, InvalidInput
from duban.engine.language.loader import parse_definition
from duban.engine.org.units import import_units
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Audit, Task, TaskState
from duban.engine.time.calendar import WorkCalendar
from duban.engine.work import catalog, fanout, lifecycle

CALENDAR = WorkCalendar.load(None)
FIXTURES = Path(__file__).parent.parent / "fixtures"
days = st.dates(min_value=date(2004, 1, 1), max_value=date(2099, 12, 31))


@given(start=days, n=st.integers(min_value=1, max_value=400))
@settings(max_examples=300, deadline=None)
def test_adding_working_days_lands_on_the_nth_working_day(start: date, n: int) -> None:
    end, _ = CALENDAR.add_workdays(start, n)
    assert end > start and CALENDAR.is_workday(end)
    assert len(CALENDAR.workdays_between(start + timedelta(days=1), end)) == n
    back, _ = CALENDAR.workdays_before(end, n)
    # Walking back n working days from there lands on `start`, or on the last working day before it.
    assert back == CALENDAR.last_workday_on_or_before(start)[0]


@given(day=days)
@settings(max_examples=300, deadline=None)
def test_nearest_working_days_bracket_a_day(day: date) -> None:
    after, _ = CALENDAR.first_workday_on_or_after(day)
    before, _ = CALENDAR.last_workday_on_or_before(day)
    assert before <= day <= after
    assert CALENDAR.is_workday(after) and CALENDAR.is_workday(before)
    assert (after == day) == CALENDAR.is_workday(day) == (before == day)
    assert all(not CALENDAR.is_workday(day + timedelta(days=i)) for i in range(1, (after - day).days))


EVENT_DEF = """\
id: prop-check
title: 性质检查
title_en: Property check
source: "测试"
applies_to: {levels: [grassroots]}
trigger: {event: prop.happened}
due: {after: P30D}
completion:
  attachments: {min: 0}
approval: [parent, grandparent]
"""
S = TaskState
MOVES = ["submit", "approve", "reject", "waive", "extend", "urge"]
# The account that may make each move on G01's task (the submitter never approves).
BY = {
    "submit": "g01-staff",
    "approve": None,
    "reject": None,
    "waive": "c01-admin",
    "extend": "t01-admin",
    "urge": "t01-admin",
}


def _world(db: Engine, rt: Any) -> None:
    with write_session(db) as s:
        now = rt.now()
        import_units(s, now, OPERATOR, FIXTURES / "tree.csv")
        catalog.store_definitions(s, now, OPERATOR, [parse_definition(EVENT_DEF, "p.yaml")])
        for name, unit, role in [
            ("g01-staff", "G01", "staff"),
            ("t01-admin", "T01", "admin"),
            ("k01-admin", "K01", "admin"),
            ("c01-admin", "C01", "admin"),
        ]:
            add_account(s, now, OPERATOR, name, unit, role, "password123")
        fanout.assign_definition(s, rt, actor_for(s, "c01-admin"), "prop-check", "C01")


def _move(s: Any, rt: Any, task: Task, move: str) -> None:
    name = BY[move] or ("t01-admin" if task.approval_step == 0 else "k01-admin")
    actor = actor_for(s, name)
    if move == "submit":
        lifecycle.submit_task(s, rt, actor, task.id, form={}, files=[])
    elif move == "approve":
        lifecycle.approve_task(s, rt, actor, task.id)
    elif move == "reject":
        lifecycle.reject_task(s, rt, actor, task.id, "再补充")
    elif move == "waive":
        lifecycle.waive_task(s, rt, actor, task.id, "不适用")
    elif move == "extend":
        lifecycle.extend_task(s, rt, actor, task.id, rt.local(rt.now()).date() + timedelta(days=40), "延期")
    else:
        lifecycle.urge_task(s, rt, actor, task.id, "请尽快")


def _snapshot(db: Engine, task_id: int) -> tuple[Any, int]:
    with read_session(db) as s:
        task = s.get(Task, task_id)
        state = (task.state, task.approval_step, task.due_at, task.escalation_level)
        audits = s.scalar(select(func.count()).where(Audit.task_id == task_id))
    return state, audits


def test_any_sequence_of_moves_keeps_the_lifecycle_rules(db: Engine, replay: Any) -> None:
    _world(db, replay.rt)
    rt = replay.rt
    counter = iter(range(10**6))

    @given(moves=st.lists(st.sampled_from(MOVES), min_size=1, max_size=12))
    @settings(
        max_examples=runs(25, 200), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    def check(moves: list[str]) -> None:
        with write_session(db) as s:
            (task_id,) = fanout.post_event(
                s, rt, actor_for(s, "g01-staff"), "prop.happened", "G01", subject=f"s{next(counter)}"
            )
        for move in moves:
            before, audits = _snapshot(db, task_id)
            state = before[0]
            try:
                with write_session(db) as s:
                    task = s.get(Task, task_id)
                    _move(s, rt, task, move)
            except (Conflict, Forbidden, InvalidInput):
                # A refused move changes nothing at all.
                assert _snapshot(db, task_id) == (before, audits), move
                assert state not in lifecycle.MOVES[move][0] or (move == "approve" and before[1] > 1)
                continue
            after, audits_after = _snapshot(db, task_id)
            assert state in lifecycle.MOVES[move][0], (move, state)
            assert audits_after > audits, move  # every change leaves its audit row
            target = lifecycle.MOVES[move][1]
            if move == "approve":
                assert after[0] in (S.submitted, S.done)
                assert (after[0] == S.done) == (before[1] == 1)
            elif target is not None:
                assert after[0] == target, move
            else:
                assert after[0] == state, move
            # Finished is final.
            if state in (S.done, S.waived):
                raise AssertionError(f"{move} moved a finished task")

    check()
