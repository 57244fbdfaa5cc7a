"""Stored tasks meet their timelines: a shared cache, and re-timing a task when its due date changes.

Thousands of tasks share one timeline (same definition version, trigger, period and
explicit due), so the sweep computes each once per run. `reschedule` (after an
extension) and `recompute_provisional` (when the calendar learns a year) both move a
task onto a new timeline without re-sending what was already handled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from duban.engine.access.actors import SYSTEM
from duban.engine.language.model import Definition
from duban.engine.runtime import Runtime
from duban.engine.store import counts
from duban.engine.store.models import FINISHED_STATES, Audit, DefinitionVersion, Task
from duban.engine.time.periods import parse_period
from duban.engine.time.timeline import Action, Timeline, compute_timeline

tasks = Task.__table__
versions = DefinitionVersion.__table__
audit = Audit.__table__
FINISHED = tuple(s.value for s in FINISHED_STATES)
# Spelled `= true` (SQLite: `= 1`) so both databases see that the partial index ix_task_provisional covers it.
PROVISIONAL = tasks.c.calendar_provisional == True  # noqa: E712

# The task columns a re-timing reads.
RETIME_COLUMNS = (
    tasks.c.id,
    tasks.c.definition_version_id,
    tasks.c.assignment_id,
    tasks.c.unit_id,
    tasks.c.period,
    tasks.c.trigger_at,
    tasks.c.due_explicit,
    tasks.c.due_at,
    tasks.c.state,
    tasks.c.action_cursor,
    tasks.c.next_action_at,
    tasks.c.schedule_epoch,
)


def utc(instant: datetime) -> datetime:
    """The instant in UTC, so comparisons never go by wall clock."""
    return instant.astimezone(UTC)


@dataclass(frozen=True)
class Firing:
    """A timeline as the sweep walks it: each action's UTC instant and ISO stamp, worked out once per timeline."""

    overdue_at: datetime  # UTC
    actions: list[Action]
    at_utc: list[datetime]
    at_iso: list[str]


class TimelineCache:
    """Definitions by version id and timelines by (version, trigger, period, explicit due), for one run."""

    def __init__(self, session: Session, rt: Runtime) -> None:
        self.session = session
        self._rt = rt
        self._definitions: dict[int, Definition] = {}
        self._timelines: dict[tuple[int, datetime, str, date | None], tuple[Timeline, list[Action]]] = {}
        self._firings: dict[tuple[int, datetime, str, date | None], Firing] = {}

    def definition(self, version_id: int) -> Definition:
        """The definition of a stored version."""
        found = self._definitions.get(version_id)
        if found is None:
            body = self.session.execute(
                select(versions.c.body).where(versions.c.id == version_id)
            ).scalar_one()
            found = self._definitions[version_id] = Definition.model_validate(body)
        return found

    def timeline(
        self, version_id: int, trigger_at: datetime, period: str, due_explicit: date | None
    ) -> tuple[Timeline, list[Action]]:
        """The timeline of a task and its actions in firing order."""
        key = (version_id, utc(trigger_at), period, due_explicit)
        found = self._timelines.get(key)
        if found is None:
            rt = self._rt
            defn = self.definition(version_id)
            timeline = compute_timeline(
                defn,
                trigger_at,
                # An event task's "period" is the event's day, which only keeps repeats apart.
                period=parse_period(period) if period and defn.recurring else None,
                explicit_due=due_explicit,
                calendar=rt.calendar,
                tz=rt.tz,
                reminder_time=rt.reminder_time,
            )
            found = self._timelines[key] = (timeline, timeline.actions())
        return found

    def firing(self, version_id: int, trigger_at: datetime, period: str, due_explicit: date | None) -> Firing:
        """The timeline of a task ready for the sweep."""
        key = (version_id, trigger_at, period, due_explicit)
        found = self._firings.get(key)
        if found is None:
            timeline, actions = self.timeline(version_id, trigger_at, period, due_explicit)
            found = self._firings[key] = Firing(
                utc(timeline.overdue_at),
                actions,
                [utc(a.at) for a in actions],
                [a.at.isoformat() for a in actions],
            )
        return found


def approval_deadline(rt: Runtime, defn: Definition, since: datetime) -> datetime:
    """When an approver waited on since `since` is late: the local midnight after its last working day."""
    day, _ = rt.calendar.add_workdays(rt.local(since).date(), defn.approval_due.workdays)
    return datetime.combine(day + timedelta(days=1), time(0), rt.tz)


def _retime(
    session: Session,
    rt: Runtime,
    rows: Iterable[Any],
    cache: TimelineCache,
    action: str,
    handled_before: Any,
    only_changed: bool,
) -> int:
    """Move each task onto its current timeline; `handled_before(row, actions)` says how many are done."""
    now = rt.clock.now()
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for row in rows:
        timeline, actions = cache.timeline(
            row.definition_version_id, row.trigger_at, row.period, row.due_explicit
        )
        if only_changed and timeline.calendar_provisional:
            continue  # the calendar still does not know the year: nothing to learn yet
        moved = utc(timeline.due_at) != utc(row.due_at)
        epoch = row.schedule_epoch + 1 if moved else row.schedule_epoch
        cursor = handled_before(row, actions)
        finished = row.state in FINISHED
        next_at = actions[cursor].at if cursor < len(actions) and not finished else None
        if row.state == "submitted":
            # Waiting for approval: what is due is the approver's deadline, not the branch's timeline.
            next_at = row.next_action_at
        updates.append(
            {
                "id": row.id,
                "due_at": timeline.due_at,
                "overdue_at": timeline.overdue_at,
                "calendar_provisional": timeline.calendar_provisional,
                "schedule_epoch": epoch,
                "action_cursor": cursor,
                "next_action_at": next_at,
                "updated_at": now,
            }
        )
        events.append(
            {
                "at": now,
                "actor": SYSTEM.name,
                "action": action,
                "task_id": row.id,
                "assignment_id": row.assignment_id,
                "unit_id": row.unit_id,
                "payload": {
                    "old_due": row.due_at.astimezone(rt.tz).isoformat(),
                    "new_due": timeline.due_at.astimezone(rt.tz).isoformat(),
                    "calendar_provisional": timeline.calendar_provisional,
                    "schedule_epoch": epoch,
                },
            }
        )
    for values in updates:
        # One UPDATE per task: re-timing touches few tasks (extensions, a newly known year).
        session.execute(update(tasks).where(tasks.c.id == values.pop("id")).values(**values))
    if events:
        session.execute(audit.insert(), events)
    return len(updates)


def reschedule(session: Session, rt: Runtime, task_ids: Iterable[int]) -> int:
    """Recompute tasks' timelines from their (new) due_explicit; actions already past are not re-sent."""
    ids = sorted(set(task_ids))
    if not ids:
        return 0
    now = utc(rt.clock.now())
    rows = session.execute(select(*RETIME_COLUMNS).where(tasks.c.id.in_(ids))).all()

    def past(_row: Any, actions: list[Action]) -> int:
        return sum(1 for a in actions if utc(a.at) <= now)

    return _retime(
        session, rt, rows, TimelineCache(session, rt), "task.rescheduled", past, only_changed=False
    )


def recompute_provisional(session: Session, rt: Runtime) -> int:
    """Re-time unfinished provisional tasks whose year the calendar now knows; audited as task.recomputed."""
    rows = session.execute(select(*RETIME_COLUMNS).where(PROVISIONAL, tasks.c.state.not_in(FINISHED))).all()
    if not rows:
        return 0
    # A new overdue_at moves the tasks between count rows; they are put back by id, since after
    # re-timing most are no longer provisional.
    retimed = counts.task_ids(session, [row.id for row in rows])
    counts.take(session, retimed)
    now = utc(rt.clock.now())

    def before_next(row: Any, actions: list[Action]) -> int:
        # What the old timeline had handled: every action before its next unhandled one.
        boundary = utc(row.next_action_at) if row.next_action_at is not None else now
        if row.next_action_at is None:
            return sum(1 for a in actions if utc(a.at) <= boundary)
        return sum(1 for a in actions if utc(a.at) < boundary)

    done = _retime(
        session, rt, rows, TimelineCache(session, rt), "task.recomputed", before_next, only_changed=True
    )
    counts.put(session, retimed)
    counts.drop_empty(session)
    return done
