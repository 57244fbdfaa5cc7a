"""The deadline sweep: send the reminders and escalations that have come due, batch by batch.

Each unfinished task stores the time of its next unhandled timeline action
(`next_action_at`, indexed) and how many actions it has handled (`action_cursor`). The
sweep takes due tasks through that index, one transaction per batch, handles every due
action in order, and moves the cursor on. Batches are locked (PostgreSQL: FOR UPDATE
SKIP LOCKED; SQLite: BEGIN IMMEDIATE), and every notice has a unique dedupe key, so
concurrent, repeated or interrupted sweeps send nothing twice and miss nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine import routing
from engine.actors import SYSTEM
from engine.db import is_sqlite, write_session
from engine.models import Assignment, Audit, Supervision, Task, Unit
from engine.notices import dedupe_key, notify
from engine.runtime import Runtime
from engine.schedule import Action
from engine.timelines import FINISHED, TimelineCache, recompute_provisional, reschedule, utc
from engine.tree import SEGMENT, in_subtree

__all__ = ["SweepResult", "due_query", "partitions", "reschedule", "run_periodic", "sweep_due"]

tasks = Task.__table__
units = Unit.__table__
assignments = Assignment.__table__
supervisions = Supervision.__table__
audit = Audit.__table__

# Calendars (by database and known years) whose provisional tasks this process has re-timed.
# The calendar only changes with a restart, so once per process keeps the idle sweep on the index.
_recomputed: set[tuple[str, tuple[int, ...]]] = set()


@dataclass
class SweepResult:
    """What one sweep did."""

    reminders_sent: int = 0
    reminders_skipped: int = 0
    escalations: int = 0
    tasks_touched: int = 0
    provisional_recomputed: int = 0
    batches: int = 0

    def to_json(self) -> dict[str, int]:
        """The counts as a JSON object."""
        return asdict(self)

    def add(self, other: SweepResult) -> None:
        """Add another sweep's counts (a partitioned sweep sums its parts)."""
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)


def due_query(now: datetime, limit: int, partition: str | None = None) -> Select[Any]:
    """The ids of due tasks, oldest first, through the next_action_at index; locks them on PostgreSQL."""
    query = select(tasks.c.id).where(tasks.c.next_action_at <= now)
    if partition:
        query = query.join(units, units.c.id == tasks.c.unit_id).where(in_subtree(partition))
    query = query.order_by(tasks.c.next_action_at, tasks.c.id).limit(limit)
    # SQLite ignores this; there BEGIN IMMEDIATE already makes the batch one writer's.
    return query.with_for_update(skip_locked=True, of=tasks)


def partitions(session: Session) -> list[str]:
    """The paths of the units just below the roots: the subtrees a national sweep is split by."""
    return list(
        session.scalars(select(units.c.path).where(func.length(units.c.path) == 2 * SEGMENT).order_by(units.c.path))
    )


def _upsert_supervision(session: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    module = sqlite if is_sqlite(session) else postgresql
    stmt = module.insert(supervisions)
    stmt = stmt.on_conflict_do_update(
        index_elements=["task_id", "unit_id"], set_={"level": stmt.excluded.level}
    )
    session.execute(stmt, rows)


_ADVANCE = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_id"))
    .values(
        action_cursor=bindparam("b_cursor"),
        next_action_at=bindparam("b_next", type_=tasks.c.next_action_at.type),
        escalation_level=bindparam("b_level"),
        updated_at=bindparam("b_now", type_=tasks.c.updated_at.type),
    )
)


def _sweep_batch(
    session: Session,
    rt: Runtime,
    now: datetime,
    cache: TimelineCache,
    batch_size: int,
    partition: str | None,
    run_key: str,
    result: SweepResult,
) -> int:
    """Handle one batch of due tasks in the caller's transaction; returns how many tasks it took."""
    ids = list(session.scalars(due_query(now, batch_size, partition)))
    if not ids:
        return 0
    rows = session.execute(
        select(
            tasks.c.id, tasks.c.definition_version_id, tasks.c.assignment_id, tasks.c.unit_id, tasks.c.period,
            tasks.c.trigger_at, tasks.c.due_explicit, tasks.c.state, tasks.c.action_cursor,
            tasks.c.schedule_epoch, tasks.c.escalation_level, units.c.path, assignments.c.issuer_unit_id,
        )
        .join(units, units.c.id == tasks.c.unit_id)
        .join(assignments, assignments.c.id == tasks.c.assignment_id)
        .where(tasks.c.id.in_(ids))
    ).all()
    now_utc = utc(now)
    targets: dict[tuple[str, int, str], int | None] = {}
    advances: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    watch: list[dict[str, Any]] = []

    def event(row: Any, action: str, payload: dict[str, Any]) -> None:
        events.append({"at": now, "actor": SYSTEM.name, "action": action, "task_id": row.id,
                       "assignment_id": row.assignment_id, "unit_id": row.unit_id, "payload": payload})

    for row in rows:
        if row.state in FINISHED:
            # Finished tasks owe nothing; the lifecycle clears this too, this is a safety net.
            advances.append({"b_id": row.id, "b_cursor": row.action_cursor, "b_next": None,
                             "b_level": row.escalation_level, "b_now": now})
            continue
        timeline, actions = cache.timeline(row.definition_version_id, row.trigger_at, row.period, row.due_explicit)
        cursor, level = row.action_cursor, row.escalation_level
        late = now_utc >= utc(timeline.overdue_at)
        while cursor < len(actions) and utc(actions[cursor].at) <= now_utc:
            action: Action = actions[cursor]
            cursor += 1
            at = action.at.isoformat()
            key = dedupe_key(row.id, action.kind, action.step, row.schedule_epoch)
            if action.kind == "reminder":
                if late:
                    # Catch-up after downtime: a reminder of a deadline already missed is not sent late.
                    result.reminders_skipped += 1
                    event(row, "task.reminder_skipped", {"step": action.step, "at": at, "reason": "deadline passed"})
                    continue
                result.reminders_sent += 1
                notices.append({"task_id": row.id, "kind": "reminder", "step": action.step, "unit_id": row.unit_id,
                                "dedupe_key": key, "payload": {"at": at}})
                event(row, "task.reminded", {"step": action.step, "at": at, "dedupe_key": key})
                continue
            to = action.to or "parent"
            where = (row.path, row.issuer_unit_id, to)
            if where not in targets:
                targets[where] = routing.resolve(session, row.path, row.issuer_unit_id, to)
            target = targets[where]
            level = max(level, action.step)
            result.escalations += 1
            if target is not None:
                watch.append({"task_id": row.id, "unit_id": target, "level": action.step, "since": now})
                notices.append({"task_id": row.id, "kind": "escalation", "step": action.step, "unit_id": target,
                                "dedupe_key": key, "payload": {"at": at, "level": action.step, "to": to}})
            event(row, "task.escalated", {"level": action.step, "to": to, "to_unit_id": target, "at": at})
        next_at = actions[cursor].at if cursor < len(actions) else None
        advances.append({"b_id": row.id, "b_cursor": cursor, "b_next": next_at, "b_level": level, "b_now": now})
    result.tasks_touched += len(advances)
    _upsert_supervision(session, watch)
    notify(session, rt, notices, run_key=run_key)
    if events:
        session.execute(audit.insert(), events)
    session.connection().execute(_ADVANCE, advances)
    return len(ids)


def _with_lock_retry(engine: Engine, work: Callable[[Session], int], tries: int = 5) -> int:
    """Run `work` in a write transaction; on SQLite a lock that outlasts the busy timeout is retried."""
    for attempt in range(1, tries + 1):
        try:
            with write_session(engine) as session:
                return work(session)
        except OperationalError as exc:
            if attempt == tries or "locked" not in str(exc).lower():
                raise
            # Backs off on real time on purpose: this waits for another process, not for the domain clock.
            time.sleep(0.1 * attempt)
    raise AssertionError("unreachable")


def _exists(engine: Engine, probe: Select[Any]) -> bool:
    """Whether `probe` finds a row, asked in a read transaction: an idle sweep never takes the write lock."""
    with engine.connect() as conn:
        return conn.execute(probe.limit(1)).first() is not None


# Built once: an idle sweep is mostly this probe, and building a statement costs more than running it.
_DUE_PROBE = (
    select(tasks.c.id).where(tasks.c.next_action_at <= bindparam("now", type_=tasks.c.next_action_at.type)).limit(1)
)


def _anything_due(engine: Engine, now: datetime, partition: str | None) -> bool:
    if partition:
        probe = select(tasks.c.id).where(tasks.c.next_action_at <= now)
        return _exists(engine, probe.join(units, units.c.id == tasks.c.unit_id).where(in_subtree(partition)))
    with engine.connect() as conn:
        return conn.execute(_DUE_PROBE, {"now": now}).first() is not None


def sweep_due(
    engine: Engine,
    rt: Runtime,
    *,
    batch_size: int = 1000,
    partition: str | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> SweepResult:
    """Send every reminder and escalation due by now, in batches of `batch_size` tasks, one transaction each."""
    now = rt.clock.now()
    result = SweepResult()
    calendar_key = (engine.url.render_as_string(hide_password=True), tuple(rt.calendar.known_years()))
    if partition is None and calendar_key not in _recomputed:
        if _exists(engine, select(tasks.c.id).where(tasks.c.calendar_provisional.is_(True))):
            result.provisional_recomputed = _with_lock_retry(engine, lambda s: recompute_provisional(s, rt))
        _recomputed.add(calendar_key)
    if not _anything_due(engine, now, partition):
        return result
    # One run key per sweep: each recipient's notices of this sweep become one digest.
    run_key = f"sweep-{utc(now).strftime('%Y%m%dT%H%M%SZ')}"
    cache: TimelineCache | None = None
    while True:
        before = asdict(result)

        def batch(session: Session, before: dict[str, int] = before) -> int:
            nonlocal cache
            # A retried or failed batch rolled back, so its counts start again from before it.
            for key, value in before.items():
                setattr(result, key, value)
            if cache is None:
                cache = TimelineCache(session, rt)
            cache.session = session
            taken = _sweep_batch(session, rt, now, cache, batch_size, partition, run_key, result)
            if taken and on_batch is not None:
                on_batch(result.batches + 1)  # inside the transaction: a failure here rolls the batch back
            return taken

        try:
            taken = _with_lock_retry(engine, batch)
        except BaseException:
            for key, value in before.items():
                setattr(result, key, value)
            raise
        if not taken:
            return result
        result.batches += 1


def run_periodic(engine: Engine, rt: Runtime, *, batch_size: int = 1000) -> SweepResult:
    """The periodic job: open new periods, reconcile scopes, then sweep."""
    from engine import (
        fanout,  # the fan-out lives beside the sweep; imported here so each stays importable alone
    )

    with write_session(engine) as session:
        fanout.roll_over(session, rt)
    with write_session(engine) as session:
        fanout.reconcile_scopes(session, rt)
    return sweep_due(engine, rt, batch_size=batch_size)
