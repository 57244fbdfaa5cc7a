"""The counts the moves keep equal a GROUP BY over the tasks, after any history, on both databases.

Hypothesis draws histories of real moves (fan-outs, events, submissions, approvals, rejections,
waivers, extensions, withdrawals, sweeps that escalate, target splits, units moving); after
every step the `task_count` table must hold exactly what grouping the task table by each
unit's strict ancestors gives, and the report from the counts (its escalated figure read
through the escalated tasks' index) must equal the report from a scan, whole and by period.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, case, func, literal_column, make_url, select

from duban.engine.access.actors import OPERATOR, Actor
from duban.engine.errors import DubanError
from duban.engine.followup.sweep import sweep_due
from duban.engine.language.loader import load_paths
from duban.engine.org.units import import_units
from duban.engine.overview.reports import rollup, rollup_scan
from duban.engine.runtime import Runtime
from duban.engine.store import counts
from duban.engine.store.db import make_engine, read_session, write_session
from duban.engine.store.models import Assignment, Task, TaskCount, Unit
from duban.engine.store.types import SEGMENT
from duban.engine.time.calendar import WorkCalendar, package_schedules
from duban.engine.time.clock import FixedClock
from duban.engine.time.periods import parse_period
from duban.engine.work import fanout, lifecycle
from duban.engine.work.attachments import store_file
from duban.engine.work.catalog import store_definitions
from duban.engine.work.targets import split_target

PG_URL = os.environ.get("DUBAN_TEST_POSTGRES_URL")
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
CALENDAR = WorkCalendar.load(None)
KINDS = (
    "assign",
    "event",
    "submit",
    "approve",
    "reject",
    "waive",
    "extend",
    "withdraw",
    "sweep",
    "split",
    "move",
)
FIXTURES = Path(__file__).parent.parent / "fixtures"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
# Two operators: nobody approves their own submission, so one submits and the other approves.
SUBMITTER = OPERATOR
APPROVER = Actor(name="operator-2", role="operator")
SCOPES = ("C01", "K01", "K02", "T01", "T02")
DEFS = ("test-plaque", "test-congress", "test-organise", "test-weekly", "test-training")
# Re-parenting moves a township or a grassroots union (and its subtree) across the tree.
MOVES = (("T02", "K01"), ("T02", "K02"), ("G02", "T02"), ("G02", "T01"), ("T01", "K02"), ("T01", "K01"))
LEVELS = {"T01": "township", "T02": "township", "G02": "grassroots"}
PERIODS = ("2026", "2026-Q1", "2026-03", "2026-W11", "2026-H2", "2027")
NAMES = {"T01": "莞城社区工会联合会", "T02": "虎门工业园工会联合会", "G02": "莞城第一小学工会"}


def expected_counts(session: Any) -> dict[tuple[Any, ...], tuple[int, float, float, int]]:
    """GROUP BY over the task table (by unit path and key), spread to every strict ancestor."""
    t, u = Task.__table__, Unit.__table__
    late = case(
        ((t.c.state == literal_column("'done'")) & (t.c.finished_at >= t.c.overdue_at), literal_column("1")),
        else_=literal_column("0"),
    ).label("late")
    keys = (u.c.path, t.c.assignment_id, t.c.period, t.c.trigger_at, t.c.state, t.c.overdue_at)
    rows = session.execute(
        select(
            *keys,
            late,
            func.count(),
            func.sum(t.c.progress),
            func.coalesce(func.sum(t.c.target), 0.0),
            func.count(t.c.target),
        )
        .select_from(t.join(u, u.c.id == t.c.unit_id))
        .group_by(*keys, late)
    ).all()
    out: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, 0.0, 0.0, 0])
    for path, *key, n, progress, target, targeted in rows:
        key[-1] = bool(key[-1])
        for end in range(SEGMENT, len(path), SEGMENT):
            sums = out[(path[:end], *key)]
            sums[0] += n
            sums[1] += progress
            sums[2] += target
            sums[3] += targeted
    return {k: tuple(v) for k, v in out.items()}  # type: ignore[misc]


def stored_counts(session: Any) -> dict[tuple[Any, ...], tuple[int, float, float, int]]:
    c = TaskCount.__table__
    return {
        (r.node, r.assignment_id, r.period, r.trigger_at, r.state, r.overdue_at, bool(r.late)): (
            r.n,
            r.progress,
            r.target,
            r.targeted,
        )
        for r in session.execute(select(c))
    }


def assert_counts_exact(db: Engine, now: datetime) -> None:
    with read_session(db) as s:
        expected, stored = expected_counts(s), stored_counts(s)
        codes = list(s.scalars(select(Unit.code).order_by(Unit.code)))
        reports = [(rollup(s, now, OPERATOR, c), rollup_scan(s, now, OPERATOR, c)) for c in codes]
        # By period, at the root and a county: periods that hold, cut across and miss the tasks' own.
        reports += [
            (rollup(s, now, OPERATOR, c, None, p, TZ), rollup_scan(s, now, OPERATOR, c, None, p, TZ))
            for c in ("C01", "K01")
            for p in PERIODS
        ]
    assert set(stored) == set(expected), "no row missing, none extra (emptied rows are dropped)"
    for key, (n, progress, target, targeted) in expected.items():
        got = stored[key]
        assert (got[0], got[3]) == (n, targeted), key
        assert got[1] == pytest.approx(progress) and got[2] == pytest.approx(target), key
    for from_counts, from_scan in reports:
        assert from_counts == from_scan


class History:
    """The world a drawn history acts on: the sample tree, the test definitions, a clock that moves forward."""

    def __init__(self, db: Engine, clock: FixedClock, rt: Runtime) -> None:
        self.db, self.clock, self.rt = db, clock, rt
        # Inside a drawn history, each move's outcome is a Hypothesis event (--hypothesis-show-statistics).
        self.note: Any = lambda _what: None

    def write(self, work: Any) -> None:
        """One move in its own transaction; a refusal (wrong state, invalid input) changes nothing."""
        try:
            with write_session(self.db) as s:
                work(s)
            self.note("a move made")
        except DubanError as refused:
            self.note(f"a move refused: {type(refused).__name__}")

    def tasks(self, *states: str) -> list[int]:
        with read_session(self.db) as s:
            return list(s.scalars(select(Task.id).where(Task.state.in_(states)).order_by(Task.id)))

    def assignments(self) -> list[int]:
        with read_session(self.db) as s:
            return list(
                s.scalars(select(Assignment.id).where(Assignment.state == "active").order_by(Assignment.id))
            )


def submit(h: History, s: Any, task_id: int) -> None:
    task = s.get(Task, task_id)
    a = s.get(Assignment, task.assignment_id)
    if a.def_id == "test-plaque":
        photo = store_file(h.rt, io.BytesIO(PNG), "plaque.png")
        lifecycle.submit_task(s, h.rt, SUBMITTER, task_id, files=[photo])
    elif a.def_id == "test-congress":
        held = parse_period(task.period).start.isoformat()
        lifecycle.submit_task(s, h.rt, SUBMITTER, task_id, form={"held_on": held, "attendance": 30})
    elif a.def_id == "test-organise":
        lifecycle.submit_task(s, h.rt, SUBMITTER, task_id, progress=2.5)
    elif a.def_id == "test-weekly":
        lifecycle.submit_task(s, h.rt, SUBMITTER, task_id)
    else:
        lifecycle.submit_task(s, h.rt, SUBMITTER, task_id)


def move_unit(h: History, code: str, parent: str, tmp: Path) -> None:
    csv = tmp / f"move-{code}-{parent}.csv"
    csv.write_text(
        f"code,name,parent_code,level\n{code},{NAMES[code]},{parent},{LEVELS[code]}\n", encoding="utf-8"
    )
    h.write(lambda s: import_units(s, h.rt.now(), OPERATOR, csv))


def step(h: History, data: st.DataObject, tmp: Path) -> None:
    """One drawn move. Every step draws the same values whatever the state, so a history replays exactly."""
    kind = data.draw(st.sampled_from(KINDS), label="move")
    h.note(kind)
    pick, days = data.draw(st.integers(0, 10**6), label="pick"), data.draw(st.integers(0, 200), label="days")
    rt = h.rt
    if kind == "assign":
        d, scope = DEFS[pick % len(DEFS)], SCOPES[(pick // len(DEFS)) % len(SCOPES)]
        targets = {"K01": 10.0, "K02": 4.0} if d == "test-organise" and scope == "C01" else None
        h.write(lambda s: fanout.assign_definition(s, rt, OPERATOR, d, scope, targets=targets))
    elif kind == "event":
        unit, subject = ("T01", "T02", "G01", "G02", "G03")[pick % 5], f"p{pick % 3}"
        h.write(lambda s: fanout.post_event(s, rt, OPERATOR, "cadre.appointed", unit, subject=subject))
    elif kind == "sweep":
        h.clock.set(rt.now() + timedelta(days=days // 2 + 1))
        sweep_due(h.db, rt)
    elif kind == "move":
        code, parent = MOVES[pick % len(MOVES)]
        move_unit(h, code, parent, tmp)
    elif kind in ("withdraw", "split"):
        assignment_step(h, kind, pick)
    else:
        task_step(h, kind, pick, days)


def assignment_step(h: History, kind: str, pick: int) -> None:
    active = h.assignments()
    if not active:
        return
    a, rt = active[pick % len(active)], h.rt
    if kind == "withdraw":
        h.write(lambda s: fanout.withdraw_assignment(s, rt, OPERATOR, a, "撤回"))
    else:
        h.write(lambda s: split_target(s, rt, OPERATOR, a, "K01", {"T01": 12.0}))


def task_step(h: History, kind: str, pick: int, days: int) -> None:
    wanted = {"submit": ("open",), "approve": ("submitted",), "reject": ("submitted",)}
    candidates = h.tasks(*wanted.get(kind, ("open", "submitted")))
    if not candidates:
        return
    task_id, rt = candidates[pick % len(candidates)], h.rt
    if kind == "submit":
        h.write(lambda s: submit(h, s, task_id))
    elif kind == "approve":
        h.write(lambda s: lifecycle.approve_task(s, rt, APPROVER, task_id))
    elif kind == "reject":
        h.write(lambda s: lifecycle.reject_task(s, rt, APPROVER, task_id, "材料不全"))
    elif kind == "waive":
        h.write(lambda s: lifecycle.waive_task(s, rt, OPERATOR, task_id, "单位注销"))
    else:
        due = rt.local(rt.now()).date() + timedelta(days=days)
        h.write(lambda s: lifecycle.extend_task(s, rt, OPERATOR, task_id, due, "延期"))


def seed(db: Engine, clock: FixedClock, rt: Runtime) -> History:
    """The sample tree and the test definitions, on a fresh database."""
    with write_session(db) as s:
        import_units(s, rt.now(), OPERATOR, FIXTURES / "tree.csv")
        store_definitions(s, rt.now(), OPERATOR, load_paths([FIXTURES / "defs"]))
    return History(db, clock, rt)


@pytest.fixture
def world(db: Engine, replay: Any) -> History:
    return seed(db, replay.clock, replay.rt)


@contextmanager
def fresh_database(backend: str, request: pytest.FixtureRequest, where: Path) -> Iterator[Engine]:
    """A database of its own for one drawn history, cloned from the session's migrated template."""
    if backend == "sqlite":
        path = where / f"{uuid.uuid4().hex}.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
        try:
            yield engine
        finally:
            engine.dispose()
            path.unlink()
        return
    assert PG_URL
    name = f"duban_h_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{request.getfixturevalue("pg_template")}"')
    engine = make_engine(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_counts_equal_a_group_by_over_the_tasks_after_any_history(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, data: st.DataObject
) -> None:
    clock = FixedClock(T0)
    rt = Runtime(clock=clock, tz=TZ, calendar=CALENDAR, data_dir=tmp_path / "data")
    with fresh_database(backend, request, tmp_path) as db:
        h = seed(db, clock, rt)
        h.note = event
        for _ in range(data.draw(st.integers(4, 14), label="steps")):
            step(h, data, tmp_path)
            assert_counts_exact(db, rt.now())
        # Overdue is answered at any instant, not only when a sweep ran: ask a year on.
        assert_counts_exact(db, rt.now() + timedelta(days=365))


def test_the_migration_fills_the_counts_the_moves_keep(world: History) -> None:
    """A database upgraded with tasks in it gets exactly the counts the moves would have kept."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from duban.engine.store.schema import alembic_config, upgrade

    build_some_history(world)
    with read_session(world.db) as s:
        kept = stored_counts(s)
    assert kept
    config = alembic_config(world.db.url.render_as_string(hide_password=False))
    with world.db.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, ScriptDirectory.from_config(config).get_revision("0011").down_revision)
    upgrade(world.db)
    with read_session(world.db) as s:
        assert stored_counts(s) == kept
    assert_counts_exact(world.db, world.rt.now())


def test_the_counts_go_down_to_escalated_rows_and_up_again(world: History) -> None:
    """0014 rebuilds the counts from the tasks both ways: down, keyed by escalation as 0011 kept them; up, as kept."""
    from alembic import command

    from duban.engine.store.schema import alembic_config, upgrade

    build_some_history(world)
    with read_session(world.db) as s:
        kept = stored_counts(s)
        t, u = Task.__table__, Unit.__table__
        below: dict[tuple[str, bool], int] = defaultdict(int)
        for path, level in s.execute(select(u.c.path, t.c.escalation_level).join(u, u.c.id == t.c.unit_id)):
            for end in range(SEGMENT, len(path), SEGMENT):
                below[(path[:end], level > 0)] += 1
    assert any(escalated for _, escalated in below), "the history escalates"
    config = alembic_config(world.db.url.render_as_string(hide_password=False))
    with world.db.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0013")
    with world.db.connect() as conn:
        rows = conn.exec_driver_sql("SELECT node, escalated, sum(n) FROM task_count GROUP BY node, escalated")
        assert {(node, bool(escalated)): n for node, escalated, n in rows} == below
    upgrade(world.db)
    with read_session(world.db) as s:
        assert stored_counts(s) == kept
    assert_counts_exact(world.db, world.rt.now())


def build_some_history(h: History) -> None:
    rt = h.rt
    h.write(lambda s: fanout.assign_definition(s, rt, OPERATOR, "test-congress", "C01"))
    h.write(lambda s: fanout.assign_definition(s, rt, OPERATOR, "test-organise", "C01", targets={"K01": 3.0}))
    open_ = h.tasks("open")
    h.write(lambda s: submit(h, s, open_[0]))
    h.write(lambda s: submit(h, s, open_[-1]))
    h.write(lambda s: lifecycle.waive_task(s, rt, OPERATOR, open_[1], "注销"))
    h.clock.set(rt.now() + timedelta(days=200))
    sweep_due(h.db, rt)
    h.write(lambda s: lifecycle.approve_task(s, rt, APPROVER, open_[0]))


def test_a_sweep_that_reminds_and_escalates_moves_no_count_row(world: History) -> None:
    """Escalation is not in the counts' key: the sweep leaves them alone, and the report still says 督办."""
    rt = world.rt
    world.write(lambda s: fanout.assign_definition(s, rt, OPERATOR, "test-congress", "C01"))
    with read_session(world.db) as s:
        before = stored_counts(s)
    world.clock.set(rt.now() + timedelta(days=200))
    swept = sweep_due(world.db, rt)
    assert swept.escalations > 0 and swept.reminders_sent + swept.reminders_skipped > 0
    with read_session(world.db) as s:
        assert stored_counts(s) == before
        escalated = s.scalar(select(func.count()).where(Task.escalation_level > 0))
        report = rollup(s, rt.now(), OPERATOR, "C01")
    assert escalated and report["total"]["escalated"] == escalated
    assert_counts_exact(world.db, rt.now())


def test_provisional_tasks_move_between_count_rows_when_retimed(db: Engine, replay: Any) -> None:
    """Re-timing when the calendar learns a year changes overdue_at: the counts follow, in the same transaction."""
    with write_session(db) as s:
        import_units(s, replay.rt.now(), OPERATOR, FIXTURES / "tree.csv")
        store_definitions(s, replay.rt.now(), OPERATOR, load_paths([FIXTURES / "defs"]))
    last = max(WorkCalendar.load(None).known_years())
    partial = WorkCalendar.load(None, base={y: v for y, v in package_schedules().items() if y != last})
    rt_old = Runtime(clock=replay.clock, tz=replay.rt.tz, calendar=partial, data_dir=replay.rt.data_dir)
    replay.clock.set(datetime(last - 1, 12, 31, 9, 0, tzinfo=replay.rt.tz))
    with write_session(db) as s:
        fanout.assign_definition(s, rt_old, OPERATOR, "test-plaque", "C01")
    with read_session(db) as s:
        assert s.scalar(select(func.count()).where(Task.calendar_provisional)) == 2
    assert_counts_exact(db, replay.rt.now())
    replay.clock.set(replay.rt.now() + timedelta(hours=1))
    assert sweep_due(db, replay.rt).provisional_recomputed == 2
    with read_session(db) as s:
        assert s.scalar(select(func.count()).where(Task.calendar_provisional)) == 0
        deadlines = set(s.scalars(select(Task.overdue_at)))
        assert {k[5] for k in stored_counts(s)} == deadlines, (
            "the count rows are keyed by the re-timed deadlines"
        )
    assert_counts_exact(db, replay.rt.now() + timedelta(days=30))


def test_rebuild_gives_the_counts_the_moves_kept(world: History) -> None:
    build_some_history(world)
    with read_session(world.db) as s:
        kept = stored_counts(s)
    with write_session(world.db) as s:
        counts.rebuild(s)
    with read_session(world.db) as s:
        assert stored_counts(s) == kept
