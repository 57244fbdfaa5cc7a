"""The deadline sweep: send the reminders and escalations that have come due, batch by batch.

Each unfinished task stores the time of its next unhandled timeline action
(`next_action_at`, indexed) and how many actions it has handled (`action_cursor`). The
sweep takes due tasks through that index, one transaction per batch, handles every due
action in order, and moves the cursor on. Batches are locked (PostgreSQL: FOR UPDATE
SKIP LOCKED; SQLite: BEGIN IMMEDIATE), and every notice has a unique dedupe key, so
concurrent, repeated or interrupted sweeps send nothing twice and miss nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from duban.engine.access.actors import SYSTEM
from duban.engine.followup.notices import dedupe_key, heard_sql, notify
from duban.engine.followup.timelines import (
    FINISHED,
    PROVISIONAL,
    TimelineCache,
    approval_deadline,
    recompute_provisional,
    utc,
)
from duban.engine.language.model import Definition
from duban.engine.org import routing
from duban.engine.runtime import Runtime
from duban.engine.store.bulk import Bulk, among
from duban.engine.store.db import is_sqlite, retry_locked
from duban.engine.store.models import Supervision, Task, Unit
from duban.engine.time.timeline import Action

__all__ = ["DUE_PROBE", "SweepResult", "explain_batch", "sweep_due"]

tasks = Task.__table__
supervisions = Supervision.__table__
units = Unit.__table__

UNHEARD_SAMPLE = 5
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
    approvals_overdue: int = 0
    batches: int = 0
    # Units whose new notices nobody is listed to receive (no contact, no acting account): how many, and
    # the first few codes, so an operator can give them a recipient.
    unheard_units: int = 0
    unheard_sample: list[str] = field(default_factory=list)
    # Filled by the periodic job around the sweep: the periods it opened, the tasks it made (the new
    # periods' and units' that joined a scope) and the events people caused.
    tasks_created: int = 0
    periods_opened: list[dict[str, Any]] = field(default_factory=list)
    events_posted: int = 0

    def to_json(self) -> dict[str, Any]:
        """The counts as a JSON object."""
        return asdict(self)

    def add(self, other: SweepResult) -> None:
        """Add another sweep's counts (sweepers working one queue sum theirs)."""
        for key, value in asdict(other).items():
            if key == "unheard_sample":
                self.unheard_sample = sorted({*self.unheard_sample, *value})[:UNHEARD_SAMPLE]
            else:
                setattr(self, key, getattr(self, key) + value)


def _upsert_supervision(session: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    module = sqlite if is_sqlite(session) else postgresql
    stmt = module.insert(supervisions)
    stmt = stmt.on_conflict_do_update(
        index_elements=["task_id", "unit_id"], set_={"level": stmt.excluded.level}
    )
    session.execute(stmt, rows)


# The batch: due tasks with what handling them needs, in one read through the (next_action_at, id) index.
# The last column says whether anyone is listed to hear about the unit, so notices to units nobody
# hears skip the recipients lookup. PostgreSQL locks the batch (SKIP LOCKED: concurrent sweeps take
# different tasks); on SQLite BEGIN IMMEDIATE already makes it one writer's.
_BATCH = f"""
SELECT t.id, t.definition_version_id, t.assignment_id, t.unit_id, t.period, t.trigger_at, t.due_explicit,
       t.state, t.action_cursor, t.schedule_epoch, t.escalation_level, u.path, a.issuer_unit_id,
       CASE WHEN {heard_sql("u")} THEN 1 ELSE 0 END, t.approval_step, t.waiting_since
FROM task t JOIN unit u ON u.id = t.unit_id JOIN assignment a ON a.id = t.assignment_id
WHERE t.next_action_at <= ?
ORDER BY t.next_action_at, t.id
LIMIT ?"""
_SKIP_LOCKED = " FOR UPDATE OF t SKIP LOCKED"
_AUDIT = (
    ("at", "timestamptz"),
    ("actor", "text"),
    ("action", "text"),
    ("task_id", "integer"),
    ("assignment_id", "integer"),
    ("unit_id", "integer"),
    ("payload", "json"),
)
_ADVANCE = (
    ("action_cursor", "integer"),
    ("next_action_at", "timestamptz"),
    ("escalation_level", "integer"),
    ("updated_at", "timestamptz"),
)


def _due_rows(bulk: Bulk, now: datetime, batch_size: int, explain: str = "") -> list[Any]:
    sql = explain + _BATCH + (_SKIP_LOCKED if bulk.postgres else "")
    return bulk.rows(sql, (bulk.instant(now), batch_size))


def explain_batch(session: Session, now: datetime, batch_size: int = 1000) -> list[str]:
    """The database's plan for a sweep batch, of the statement the sweep sends (for tests and `duban bench`)."""
    bulk = Bulk(session)
    explain = "EXPLAIN " if bulk.postgres else "EXPLAIN QUERY PLAN "
    return [str(row[-1]) for row in _due_rows(bulk, now, batch_size, explain)]


def _sweep_batch(
    session: Session,
    rt: Runtime,
    now: datetime,
    cache: TimelineCache,
    batch_size: int,
    run_key: str,
    result: SweepResult,
    unheard: set[int],
) -> int:
    """Handle one batch of due tasks in the caller's transaction; returns how many tasks it took."""
    bulk = Bulk(session)
    rows = _due_rows(bulk, now, batch_size)
    if not rows:
        return 0
    now_utc = utc(now)
    at_now = bulk.instant(now)
    actor = SYSTEM.name
    targets: dict[tuple[str, int, str], int | None] = {}
    advances: list[tuple[Any, ...]] = []
    notices: list[dict[str, Any]] = []
    events: list[tuple[Any, ...]] = []
    watch: list[dict[str, Any]] = []
    quiet: set[int] = set()

    for (
        task_id,
        version_id,
        assignment_id,
        unit_id,
        period,
        trigger_raw,
        due_raw,
        state,
        cursor,
        epoch,
        level,
        path,
        issuer_unit_id,
        heard,
        approval_step,
        waiting_raw,
    ) in rows:
        if state in FINISHED:
            # Finished tasks owe nothing; the lifecycle clears this too, this is a safety net.
            advances.append((cursor, None, level, at_now, task_id))
            continue
        if state == "submitted":
            # Waiting for approval: the branch is not reminded or escalated; the approver has a deadline.
            next_wait = _approval_due(
                session,
                rt,
                cache.definition(version_id),
                (task_id, assignment_id, unit_id, path, issuer_unit_id, approval_step),
                bulk.read_instant(waiting_raw),
                now,
                notices,
                events,
                watch,
                result,
            )
            advances.append((cursor, bulk.instant(next_wait), level, at_now, task_id))
            continue
        if not heard:
            quiet.add(unit_id)
        firing = cache.firing(version_id, bulk.read_instant(trigger_raw), period, bulk.read_date(due_raw))
        actions, at_utc = firing.actions, firing.at_utc
        late = now_utc >= firing.overdue_at
        while cursor < len(actions) and at_utc[cursor] <= now_utc:
            action: Action = actions[cursor]
            at = firing.at_iso[cursor]
            cursor += 1
            key = dedupe_key(task_id, action.kind, action.step, epoch)
            if action.kind == "reminder":
                if late:
                    # Catch-up after downtime: a reminder of a deadline already missed is not sent late.
                    result.reminders_skipped += 1
                    events.append(
                        (
                            at_now,
                            actor,
                            "task.reminder_skipped",
                            task_id,
                            assignment_id,
                            unit_id,
                            bulk.json({"step": action.step, "at": at, "reason": "deadline passed"}),
                        )
                    )
                    continue
                result.reminders_sent += 1
                notices.append(
                    {
                        "task_id": task_id,
                        "kind": "reminder",
                        "step": action.step,
                        "unit_id": unit_id,
                        "dedupe_key": key,
                        "payload": {"at": at},
                    }
                )
                events.append(
                    (
                        at_now,
                        actor,
                        "task.reminded",
                        task_id,
                        assignment_id,
                        unit_id,
                        bulk.json({"step": action.step, "at": at, "dedupe_key": key}),
                    )
                )
                continue
            to = action.to or "parent"
            where = (path, issuer_unit_id, to)
            if where not in targets:
                targets[where] = routing.resolve(session, path, issuer_unit_id, to)
            target = targets[where]
            level = max(level, action.step)
            result.escalations += 1
            if target is not None:
                watch.append({"task_id": task_id, "unit_id": target, "level": action.step, "since": now})
                notices.append(
                    {
                        "task_id": task_id,
                        "kind": "escalation",
                        "step": action.step,
                        "unit_id": target,
                        "dedupe_key": key,
                        "payload": {"at": at, "level": action.step, "to": to},
                    }
                )
            events.append(
                (
                    at_now,
                    actor,
                    "task.escalated",
                    task_id,
                    assignment_id,
                    unit_id,
                    bulk.json({"level": action.step, "to": to, "to_unit_id": target, "at": at}),
                )
            )
        next_at = actions[cursor].at if cursor < len(actions) else None
        advances.append((cursor, bulk.instant(next_at), level, at_now, task_id))
    result.tasks_touched += len(advances)
    _upsert_supervision(session, watch)
    notify(session, rt, notices, run_key=run_key, quiet_units=quiet, unheard=unheard)
    bulk.insert("audit", _AUDIT, [e if isinstance(e, tuple) else _audit_row(bulk, e) for e in events])
    # No task count moves: reminders and escalations are not in the counts' key (engine/store/counts.py).
    bulk.update("task", ("id", "integer"), _ADVANCE, advances)
    return len(rows)


def _audit_row(bulk: Bulk, event: dict[str, Any]) -> tuple[Any, ...]:
    return (
        bulk.instant(event["at"]),
        event["actor"],
        event["action"],
        event["task_id"],
        event["assignment_id"],
        event["unit_id"],
        bulk.json(event["payload"]),
    )


def _approval_due(
    session: Session,
    rt: Runtime,
    defn: Definition,
    task: tuple[int, int, int, str, int, int],
    waiting_since: datetime | None,
    now: datetime,
    notices: list[dict[str, Any]],
    events: list[Any],
    watch: list[dict[str, Any]],
    result: SweepResult,
) -> datetime | None:
    """A submitted task's approver deadline: when it has passed, the approver's parent hears of it, once.

    Returns the task's next action time: the deadline while it lies ahead, none once handled.
    """
    task_id, assignment_id, unit_id, path, issuer_unit_id, step = task
    if waiting_since is None:
        # Submitted before approvals had deadlines: the approver's time runs from now.
        return approval_deadline(rt, defn, now)
    deadline = approval_deadline(rt, defn, waiting_since)
    if utc(now) < utc(deadline):
        return deadline
    approver, _ = routing.approver(session, path, issuer_unit_id, defn.approval, step)
    above = routing.parent_of(session, approver) if approver is not None else None
    result.approvals_overdue += 1
    waited = waiting_since.astimezone(rt.tz).isoformat()
    payload = {"approver_unit_id": approver, "to_unit_id": above, "waiting_since": waited, "step": step + 1}
    if above is not None:
        # Level 0 on the list: late is the approver, not the branch; cleared when the approver acts.
        watch.append({"task_id": task_id, "unit_id": above, "level": 0, "since": now})
        stamp = utc(waiting_since).strftime("%Y%m%dT%H%M%S")
        notices.append(
            {
                "task_id": task_id,
                "kind": "approval_overdue",
                "step": step + 1,
                "unit_id": above,
                "dedupe_key": f"{dedupe_key(task_id, 'approval_overdue', step + 1)}:w{stamp}",
                "payload": payload,
            }
        )
    events.append(
        {
            "at": now,
            "actor": SYSTEM.name,
            "action": "task.approval_overdue",
            "task_id": task_id,
            "assignment_id": assignment_id,
            "unit_id": unit_id,
            "payload": payload,
        }
    )
    return None


def _exists(engine: Engine, probe: Select[Any]) -> bool:
    """Whether `probe` finds a row, asked in a read transaction: an idle sweep never takes the write lock."""
    with engine.connect() as conn:
        return conn.execute(probe.limit(1)).first() is not None


# Built once: an idle sweep is mostly this probe, and building a statement costs more than running it.
# min() is answered from the end of the index on both databases, whatever the planner's statistics
# say; a `WHERE next_action_at <= now LIMIT 1` probe was planned as a sequential scan on PostgreSQL
# when stale statistics promised many due rows.
DUE_PROBE = select(func.min(tasks.c.next_action_at))


def _anything_due(engine: Engine, now: datetime) -> bool:
    with engine.connect() as conn:
        first = conn.execute(DUE_PROBE).scalar()
    return first is not None and first <= now


def sweep_due(
    engine: Engine,
    rt: Runtime,
    *,
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> SweepResult:
    """Send every reminder and escalation due by now, in batches of `batch_size` tasks, one transaction each."""
    now = rt.clock.now()
    result = SweepResult()
    calendar_key = (engine.url.render_as_string(hide_password=True), tuple(rt.calendar.known_years()))
    if calendar_key not in _recomputed:
        if _exists(engine, select(tasks.c.id).where(PROVISIONAL)):
            result.provisional_recomputed = retry_locked(engine, lambda s: recompute_provisional(s, rt))
        _recomputed.add(calendar_key)
    if not _anything_due(engine, now):
        return result
    # One run key per sweep: each recipient's notices of this sweep become one digest.
    run_key = f"sweep-{utc(now).strftime('%Y%m%dT%H%M%SZ')}"
    cache: TimelineCache | None = None
    unheard: set[int] = set()
    while True:
        before = asdict(result)
        batch_unheard: set[int] = set()

        def batch(session: Session, before: dict[str, Any] = before, found: set[int] = batch_unheard) -> int:
            nonlocal cache
            # A retried or failed batch rolled back, so its counts start again from before it.
            for key, value in before.items():
                setattr(result, key, value)
            found.clear()
            if cache is None:
                cache = TimelineCache(session, rt)
            cache.session = session
            taken = _sweep_batch(session, rt, now, cache, batch_size, run_key, result, found)
            if taken and on_batch is not None:
                on_batch(result.batches + 1)  # inside the transaction: a failure here rolls the batch back
            return taken

        try:
            taken = retry_locked(engine, batch)
        except BaseException:
            for key, value in before.items():
                setattr(result, key, value)
            raise
        unheard |= batch_unheard
        if not taken:
            _name_unheard(engine, unheard, result)
            return result
        result.batches += 1


def _name_unheard(engine: Engine, unit_ids: set[int], result: SweepResult) -> None:
    if not unit_ids:
        return
    result.unheard_units = len(unit_ids)
    with engine.connect() as conn:
        result.unheard_sample = list(
            conn.execute(
                select(units.c.code)
                .where(among(units.c.id, unit_ids, conn.dialect.name == "postgresql"))
                .order_by(units.c.code)
                .limit(UNHEARD_SAMPLE)
            ).scalars()
        )
