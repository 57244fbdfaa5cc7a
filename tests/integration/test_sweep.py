"""The deadline sweep against a real database: a year replayed day by day, catch-up, concurrency, crashes."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, insert, select, text, update

from duban.engine.access.actors import OPERATOR
from duban.engine.followup.sweep import DUE_PROBE, explain_batch, sweep_due
from duban.engine.followup.timelines import PROVISIONAL, reschedule
from duban.engine.language.model import Definition
from duban.engine.org.units import import_units
from duban.engine.runtime import Runtime
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import (
    Account,
    Assignment,
    Audit,
    DefinitionVersion,
    Notification,
    Outbox,
    Supervision,
    Task,
    Unit,
)
from duban.engine.time.calendar import WorkCalendar
from duban.engine.time.periods import parse_period
from duban.engine.time.timeline import compute_timeline

FIXTURES = Path(__file__).parent.parent / "fixtures"
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)

CADRE = {
    "id": "cadre-onboarding-training",
    "title": "新任工会干部上岗培训",
    "title_en": "Onboarding training for newly appointed union cadres",
    "source": "意见 三(三)",
    "applies_to": {"levels": ["grassroots"]},
    "trigger": {"event": "cadre.appointed"},
    "due": {"after": "P1Y"},
    "reminders": ["P30D", "P7D", "P1D"],
    "escalation": [{"after": "P0D", "to": "parent"}, {"after": "P30D", "to": "grandparent"}],
}


# --- factories (shared with the outbox and delivery tests) ------------------------------------


def filled(table: Any, values: dict[str, Any]) -> dict[str, Any]:
    """`values` plus a plain value for every other required column, so the factories survive new columns."""
    out = dict(values)
    for column in table.columns:
        if column.name in out or column.nullable or column.primary_key or column.default is not None:
            continue
        kind = type(column.type).__name__.lower()
        if "instant" in kind or "datetime" in kind:
            out[column.name] = T0
        elif "int" in kind or "float" in kind or "numeric" in kind:
            out[column.name] = 0
        elif "bool" in kind:
            out[column.name] = False
        elif "json" in kind:
            out[column.name] = {}
        else:
            out[column.name] = ""
    return out


def load_tree(db: Engine) -> dict[str, int]:
    """The fixture tree; returns unit ids by code."""
    with write_session(db) as s:
        import_units(s, T0, OPERATOR, FIXTURES / "tree.csv")
    with read_session(db) as s:
        return dict(s.execute(select(Unit.code, Unit.id)).all())


def add_definition(db: Engine, body: dict[str, Any] = CADRE) -> int:
    defn = Definition.model_validate(body)
    with write_session(db) as s:
        return s.execute(
            insert(DefinitionVersion.__table__)
            .values(
                def_id=defn.id,
                version=1,
                digest=defn.id,
                title=defn.title,
                body=defn.model_dump(mode="json"),
                source_text="",
                source_name="test",
                loaded_at=T0,
            )
            .returning(DefinitionVersion.__table__.c.id)
        ).scalar_one()


def add_assignment(db: Engine, version_id: int, scope: int, issuer: int | None = None) -> int:
    with write_session(db) as s:
        return s.execute(
            insert(Assignment.__table__)
            .values(
                filled(
                    Assignment.__table__,
                    {
                        "definition_version_id": version_id,
                        "def_id": CADRE["id"],
                        "scope_unit_id": scope,
                        "trigger": "event",
                        "issuer_unit_id": issuer or scope,
                        "issued_by": "operator",
                        "starts_at": T0,
                        "state": "active",
                        "created_at": T0,
                    },
                )
            )
            .returning(Assignment.__table__.c.id)
        ).scalar_one()


def add_tasks(
    db: Engine,
    rt: Runtime,
    version_id: int,
    assignment_id: int,
    unit_ids: list[int],
    trigger_at: datetime = T0,
    *,
    subjects: int = 1,
    period: str = "",
    due_explicit: date | None = None,
) -> list[int]:
    """Tasks shaped as the fan-out makes them (Core inserts, timeline stored)."""
    with read_session(db) as s:
        body = s.execute(
            select(DefinitionVersion.body).where(DefinitionVersion.id == version_id)
        ).scalar_one()
    tl = compute_timeline(
        Definition.model_validate(body),
        trigger_at,
        period=parse_period(period) if period else None,
        explicit_due=due_explicit,
        calendar=rt.calendar,
        tz=rt.tz,
        reminder_time=rt.reminder_time,
    )
    actions = tl.actions()
    rows = [
        filled(
            Task.__table__,
            {
                "assignment_id": assignment_id,
                "definition_version_id": version_id,
                "unit_id": unit_id,
                "subject": f"P{n}",
                "period": period,
                "state": "open",
                "trigger_at": trigger_at,
                "due_at": tl.due_at,
                "overdue_at": tl.overdue_at,
                "due_explicit": due_explicit,
                "calendar_provisional": tl.calendar_provisional,
                "escalation_level": 0,
                "next_action_at": actions[0].at if actions else None,
                "action_cursor": 0,
                "schedule_epoch": 0,
                "progress": 0,
                "approval_step": 0,
                "form": {},
                "event_data": {},
                "created_at": trigger_at,
                "updated_at": trigger_at,
            },
        )
        for unit_id in unit_ids
        for n in range(subjects)
    ]
    with write_session(db) as s:
        return list(s.execute(insert(Task.__table__).returning(Task.__table__.c.id), rows).scalars())


def add_account(db: Engine, name: str, unit_id: int, role: str = "staff", email: str | None = None) -> int:
    with write_session(db) as s:
        return s.execute(
            insert(Account.__table__)
            .values(
                filled(
                    Account.__table__,
                    {
                        "name": name,
                        "unit_id": unit_id,
                        "role": role,
                        "password_hash": "x",
                        "email": email,
                        "active": True,
                        "created_at": T0,
                    },
                )
            )
            .returning(Account.__table__.c.id)
        ).scalar_one()


def world(
    db: Engine, rt: Runtime, codes: tuple[str, ...] = ("G01", "G03"), subjects: int = 1
) -> tuple[dict, list[int]]:
    ids = load_tree(db)
    version = add_definition(db)
    assignment = add_assignment(db, version, ids["C01"])
    return ids, add_tasks(db, rt, version, assignment, [ids[c] for c in codes], subjects=subjects)


def notices(db: Engine) -> Counter[tuple[int, str, int]]:
    with read_session(db) as s:
        return Counter(s.execute(select(Notification.task_id, Notification.kind, Notification.step)).all())


def actions(db: Engine, action: str) -> int:
    with read_session(db) as s:
        return s.scalar(select(func.count()).select_from(Audit).where(Audit.action == action)) or 0


# --- tests ---------------------------------------------------------------------------------------


def test_a_cadre_year_replayed_day_by_day(db: Engine, replay: Any) -> None:
    ids, _task_ids = world(db, replay.rt)
    day = T0
    while day < datetime(2027, 4, 20, tzinfo=TZ):
        replay.clock.set(day)
        sweep_due(db, replay.rt)
        day += timedelta(days=1)
    got = notices(db)
    # Per task: three reminders and two escalations, each exactly once.
    assert sorted(got.values()) == [1] * 10
    kinds = Counter(kind for (_, kind, _) in got)
    assert kinds == {"reminder": 6, "escalation": 4}
    assert actions(db, "task.reminder_skipped") == 0
    with read_session(db) as s:
        rows = s.execute(select(Task.escalation_level, Task.next_action_at, Task.action_cursor)).all()
        assert rows == [(2, None, 5), (2, None, 5)]
        watch = set(s.execute(select(Supervision.unit_id, Supervision.level)).all())
        # G01 -> T01 then K01; G03 -> T02 then K02.
        assert watch == {(ids["T01"], 1), (ids["K01"], 2), (ids["T02"], 1), (ids["K02"], 2)}
        escalated_to = set(
            s.execute(select(Notification.unit_id).where(Notification.kind == "escalation")).scalars()
        )
        assert escalated_to == {ids["T01"], ids["K01"], ids["T02"], ids["K02"]}


def test_reminder_times_follow_the_timeline(db: Engine, replay: Any) -> None:
    world(db, replay.rt, codes=("G01",))
    # 2027-03-02 is the due day; P30D before is 2027-01-31 (a Sunday) -> the Friday before at 09:00.
    replay.at("2027-01-29T08:59")
    assert sweep_due(db, replay.rt).reminders_sent == 0
    replay.at("2027-01-29T09:00")
    assert sweep_due(db, replay.rt).reminders_sent == 1


def test_catch_up_after_forty_days_down(db: Engine, replay: Any) -> None:
    world(db, replay.rt)
    replay.at("2027-01-20T09:00")
    sweep_due(db, replay.rt)  # nothing due yet
    # Down from 2027-01-20 until 2027-03-01: P30D and P7D reminders missed, deadline not yet passed.
    replay.at("2027-03-01T10:00")
    first = sweep_due(db, replay.rt)
    assert (first.reminders_sent, first.reminders_skipped, first.escalations) == (6, 0, 0)
    # Down again for 40 days, past the deadline and both escalations.
    replay.at("2027-04-10T10:00")
    result = sweep_due(db, replay.rt)
    assert (result.reminders_sent, result.reminders_skipped, result.escalations) == (0, 0, 4)
    assert sweep_due(db, replay.rt).tasks_touched == 0


def test_reminders_of_a_missed_deadline_are_skipped_and_audited(db: Engine, replay: Any) -> None:
    world(db, replay.rt)
    replay.at("2027-04-12T10:00")
    result = sweep_due(db, replay.rt)
    assert (result.reminders_sent, result.reminders_skipped, result.escalations) == (0, 6, 4)
    assert actions(db, "task.reminder_skipped") == 6
    assert actions(db, "task.escalated") == 4
    assert Counter(k for (_, k, _) in notices(db)) == {"escalation": 4}


def test_two_sweeps_at_once_send_nothing_twice(db: Engine, db_url: str, replay: Any) -> None:
    from duban.engine.store.db import make_engine

    _ids, _task_ids = world(db, replay.rt, codes=("G01", "G02", "G03", "G04"), subjects=150)
    replay.at("2027-04-12T10:00")
    engines = [make_engine(db_url) for _ in range(2)]
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(engine: Engine) -> None:
        try:
            results.append(sweep_due(engine, replay.rt, batch_size=50))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    assert errors == []
    assert sum(r.escalations for r in results) == 600 * 2
    assert sum(r.reminders_skipped for r in results) == 600 * 3
    got = notices(db)
    assert len(got) == 1200 and set(got.values()) == {1}
    assert actions(db, "task.escalated") == 1200


def test_a_sweep_killed_mid_batch_then_run_again(db: Engine, replay: Any) -> None:
    world(db, replay.rt, codes=("G01", "G02", "G03"), subjects=10)
    replay.at("2027-03-02T10:00")  # the P1D reminder day (the others skipped? no: deadline not passed)

    def die(batch: int) -> None:
        if batch == 2:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        sweep_due(db, replay.rt, batch_size=7, on_batch=die)
    sent_before = sum(notices(db).values())
    assert sent_before == 7 * 3  # the first batch committed, the second rolled back
    again = sweep_due(db, replay.rt, batch_size=7)
    assert again.reminders_sent == 30 * 3 - sent_before
    got = notices(db)
    assert len(got) == 90 and set(got.values()) == {1}
    with read_session(db) as s:
        outbox_keys = s.execute(select(Outbox.dedupe_key)).scalars().all()
    assert len(outbox_keys) == len(set(outbox_keys))


def test_reschedule_after_an_extension(db: Engine, replay: Any) -> None:
    world(db, replay.rt, codes=("G01",))
    replay.at("2027-03-05T10:00")
    first = sweep_due(db, replay.rt)  # the deadline passed: reminders skipped, the first escalation sent
    assert (first.reminders_skipped, first.escalations) == (3, 1)
    with write_session(db) as s:
        s.execute(update(Task.__table__).values(due_explicit=date(2027, 6, 30)))
        assert reschedule(s, replay.rt, [1]) == 1
    with read_session(db) as s:
        task = s.execute(select(Task)).scalar_one()
    assert task.schedule_epoch == 1 and task.action_cursor == 0
    assert task.due_at.astimezone(TZ).date() == date(2027, 6, 30)
    assert actions(db, "task.rescheduled") == 1
    replay.at("2027-08-30T10:00")
    result = sweep_due(db, replay.rt)
    # The new timeline's notices are distinct from the old ones (epoch in the key).
    assert (result.reminders_sent, result.reminders_skipped, result.escalations) == (0, 3, 2)
    with read_session(db) as s:
        keys = sorted(s.execute(select(Notification.dedupe_key)).scalars())
    assert keys == ["t1:escalation:1", "t1:escalation:1:e1", "t1:escalation:2:e1"]


def test_provisional_tasks_are_recomputed_when_the_calendar_learns_the_year(db: Engine, replay: Any) -> None:
    body = dict(CADRE, id="report-in-workdays", due={"workdays": 10}, reminders=["P1D"], escalation=[])
    ids = load_tree(db)
    version = add_definition(db, body)
    assignment = add_assignment(db, version, ids["C01"])
    known = WorkCalendar.load(None)
    last = max(known.known_years())
    # A calendar that does not know the last year yet: a task triggered on its eve is provisional.
    from duban.engine.time.calendar import package_schedules

    partial = WorkCalendar.load(None, base={y: s for y, s in package_schedules().items() if y != last})
    rt_old = Runtime(clock=replay.clock, tz=TZ, calendar=partial, data_dir=replay.rt.data_dir)
    trigger = datetime(last - 1, 12, 31, 9, 0, tzinfo=TZ)
    add_tasks(db, rt_old, version, assignment, [ids["G01"]], trigger_at=trigger)
    with read_session(db) as s:
        assert s.execute(select(Task.calendar_provisional)).scalar_one() is True
    replay.clock.set(trigger + timedelta(hours=1))
    assert sweep_due(db, rt_old).provisional_recomputed == 0
    result = sweep_due(db, replay.rt)
    assert result.provisional_recomputed == 1
    assert actions(db, "task.recomputed") == 1
    with read_session(db) as s:
        assert s.execute(select(Task.calendar_provisional)).scalar_one() is False


def test_reminders_reach_exactly_the_units_someone_hears(db: Engine, replay: Any) -> None:
    """One batch mixing units with contacts, acting accounts, only a viewer or an inactive account, and nobody."""
    ids, _ = world(db, replay.rt, codes=("G01", "G02", "G03", "G04", "S01"))
    with write_session(db) as s:
        s.execute(
            update(Unit.__table__)
            .where(Unit.__table__.c.id == ids["G01"])
            .values(contacts={"email": ["g01@example.org"], "webhooks": []})
        )
    add_account(db, "g02-staff", ids["G02"], "staff")
    add_account(db, "g03-viewer", ids["G03"], "viewer", email="viewer@example.org")
    gone = add_account(db, "s01-admin", ids["S01"], "admin", email="gone@example.org")
    with write_session(db) as s:
        s.execute(update(Account.__table__).where(Account.__table__.c.id == gone).values(active=False))
    replay.at("2027-01-29T09:00")
    assert sweep_due(db, replay.rt).reminders_sent == 5
    with read_session(db) as s:
        heard = s.execute(
            select(Unit.code, Outbox.channel, Outbox.kind).join(Unit, Unit.id == Outbox.unit_id)
        ).all()
        made = s.scalar(select(func.count()).select_from(Notification).where(Notification.kind == "reminder"))
    assert sorted(heard) == [("G01", "email", "reminder"), ("G02", "inbox", "reminder")]
    assert made == 5  # every task's reminder is on record, heard or not


def test_an_idle_sweep_reads_only_the_index(db: Engine, backend: str, replay: Any) -> None:
    world(db, replay.rt)
    now = replay.at("2026-03-03T09:00")
    assert sweep_due(db, replay.rt).tasks_touched == 0
    with read_session(db) as s:
        # The batch statement the sweep sends: due tasks through the index, in its order (no sort).
        if backend == "sqlite":
            plan = " ".join(explain_batch(s, now))
            assert "USING INDEX ix_task_next_action_at" in plan, plan
            assert "SCAN t " not in plan + " " and "TEMP B-TREE" not in plan, plan
        else:
            s.execute(text("SET enable_seqscan = off"))
            plan = " ".join(explain_batch(s, now))
            assert "ix_task_next_action_at" in plan, (
                plan
            )  # a table this small may rightly be sorted in memory
            s.execute(text("RESET enable_seqscan"))
        # The idle path's probe reads the end of the index, whatever the statistics say.
        probe = str(DUE_PROBE.compile(db))
        plan = " ".join(
            str(r)
            for r in s.execute(text(("EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN ") + probe))
        )
        assert "ix_task_next_action_at" in plan and "Seq Scan" not in plan and "SCAN task" not in plan, plan
        # The once-per-process question "any provisional tasks?" reads the partial index, not the table.
        provisional = str(select(Task.__table__.c.id).where(PROVISIONAL).compile(db))
        if backend != "sqlite":
            s.execute(text("SET enable_seqscan = off"))
        plan = " ".join(
            str(r)
            for r in s.execute(
                text(("EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN ") + provisional)
            )
        )
        assert "ix_task_provisional" in plan, plan


@pytest.mark.sqlite_only
def test_an_idle_sweep_takes_no_write_lock(db: Engine, db_url: str, replay: Any) -> None:
    import sqlite3

    world(db, replay.rt)
    replay.at("2026-03-03T09:00")
    sweep_due(db, replay.rt)  # the process's first sweep also re-times provisional tasks, under the lock
    # Another process holds SQLite's write lock; an idle sweep must not queue behind it.
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        done = threading.Event()
        thread = threading.Thread(target=lambda: (sweep_due(db, replay.rt), done.set()), daemon=True)
        thread.start()
        thread.join(10)  # far below the 30 s busy timeout a locking sweep would wait
        assert done.is_set()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_sweep_names_its_unheard_units_however_many_there_are(db: Engine, replay: Any) -> None:
    """A national sweep can reach 100,000 units nobody hears: their sample is read with one parameter,
    not an `IN` list the driver refuses past 65,535 values."""
    from duban.engine.followup.sweep import SweepResult, _name_unheard

    with write_session(db) as s:
        import_units(s, replay.rt.now(), OPERATOR, FIXTURES / "tree.csv")
        known = {code: unit_id for unit_id, code in s.execute(select(Unit.id, Unit.code))}
    result = SweepResult()
    _name_unheard(db, {*range(10**6, 10**6 + 70_000), known["G04"], known["G01"]}, result)
    assert result.unheard_units == 70_002
    assert result.unheard_sample == ["G01", "G04"]
