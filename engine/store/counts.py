"""Task counts kept by the moves, so that a report reads its children's rows instead of their tasks.

`task_count` holds, for a unit N (its path, `node`) and a key (assignment, period, trigger_at,
state, overdue_at, late), how many tasks of the units strictly below N have that key,
with the sums of their progress and targets. A unit's whole subtree is its row plus its own
tasks (a handful per item, read through `ix_task_unit_state`), so leaves, most of the tree,
have no rows at all and a fan-out to a province writes rows for its ~1,700 upper units only.

Every move keeps the table exact in the move's own transaction:

* set-based moves (fan-out, withdrawal, re-timing, target splits, moving a subtree) `take` the
  tasks they touch before the change and `put` them back after, each one
  `INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE`;
* a single task's move (submit, approve, reject, waive, extend) `shift`s its old key out and
  its new key in, from the values the ORM object holds, without reading the task again.

"Overdue" needs no sweep: `overdue_at` is in the key, so a report counts the unfinished tasks
whose `overdue_at` has passed at the instant it is asked. `trigger_at` is in the key so that a
report of one period (the tasks triggered in it) reads the counts too: a fan-out's tasks share
one trigger, so it adds rows only for units that joined a scope later or tasks of events.

What the sweep does is not in the key: a reminder or an escalation moves no count. The report's
escalated figure (督办) reads the escalated tasks themselves through the partial index
`ix_task_escalated` (engine/overview/reports.py), in proportion to how many of them there are.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    String,
    and_,
    case,
    delete,
    false,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from duban.engine.store.bulk import Bulk, among
from duban.engine.store.models import Task, TaskCount, TaskState, Unit
from duban.engine.store.types import SEGMENT, Instant

__all__ = [
    "KEY",
    "Counted",
    "counted",
    "drop_empty",
    "put",
    "put_created",
    "rebuild",
    "shift",
    "shift_many",
    "take",
    "task_ids",
]

counts = TaskCount.__table__
tasks = Task.__table__
units = Unit.__table__

KEY = ("node", "assignment_id", "period", "trigger_at", "state", "overdue_at", "late")
SUMS = ("n", "progress", "target", "targeted")
# The deepest tree a path column holds (255 characters of 5-character segments).
MAX_DEPTH = 255 // SEGMENT


class Counted(NamedTuple):
    """What one task adds to the rows of the units above it (a tuple: compared and hashed in C, a sweep batch does it thousands of times)."""

    assignment_id: int
    period: str
    trigger_at: datetime
    state: str
    overdue_at: datetime
    late: bool
    progress: float
    target: float | None


def counted(task: Task) -> Counted:
    """A task's contribution, from its values in Python (the same rule as `_late` in SQL)."""
    assert task.assignment_id is not None
    return Counted(
        assignment_id=task.assignment_id,
        period=task.period,
        trigger_at=task.trigger_at,
        state=str(task.state),
        overdue_at=task.overdue_at,
        late=task.state == TaskState.done
        and task.finished_at is not None
        and task.finished_at >= task.overdue_at,
        progress=float(task.progress or 0),
        target=task.target,
    )


def _late() -> ColumnElement[Any]:
    done_late = and_(tasks.c.state == TaskState.done.value, tasks.c.finished_at >= tasks.c.overdue_at)
    return case((done_late, True), else_=false())


def _upsert(session: Session) -> Any:
    stmt = (sqlite if session.get_bind().dialect.name == "sqlite" else postgresql).insert(counts)
    return stmt, {name: counts.c[name] + stmt.excluded[name] for name in SUMS}


def _apply(session: Session, condition: ColumnElement[bool], sign: int) -> None:
    """Add (sign 1) or remove (sign -1) the tasks matching `condition` from every unit above them."""
    # First the tasks by their parent unit: one pass, a few thousand groups even for a province.
    parent = func.substr(units.c.path, 1, func.length(units.c.path) - SEGMENT).label("parent")
    keys = [
        tasks.c.assignment_id,
        tasks.c.period,
        tasks.c.trigger_at,
        tasks.c.state,
        tasks.c.overdue_at,
        _late().label("late"),
    ]
    by_parent = (
        select(
            parent,
            *keys,
            (func.count() * sign).label("n"),
            (func.coalesce(func.sum(tasks.c.progress), 0.0) * sign).label("progress"),
            (func.coalesce(func.sum(tasks.c.target), 0.0) * sign).label("target"),
            (func.count(tasks.c.target) * sign).label("targeted"),
        )
        .select_from(tasks.join(units, units.c.id == tasks.c.unit_id))
        .where(condition, units.c.depth > 0)
        .group_by(parent, *keys)
        .subquery("g")
    )
    # Then each parent's groups to the parent and every unit above it.
    depths = _depths()
    node = func.substr(by_parent.c.parent, 1, depths.c.k * SEGMENT).label("node")
    g_keys = [by_parent.c[name] for name in KEY[1:]]
    rows = (
        select(node, *g_keys, *[func.sum(by_parent.c[name]).label(name) for name in SUMS])
        .select_from(by_parent.join(depths, depths.c.k * SEGMENT <= func.length(by_parent.c.parent)))
        .group_by(node, *g_keys)
    )
    stmt, sums = _upsert(session)
    session.execute(
        stmt.from_select([*KEY, *SUMS], rows).on_conflict_do_update(index_elements=list(KEY), set_=sums)
    )


def task_ids(session: Session, ids: Iterable[int]) -> ColumnElement[bool]:
    """SQL: the task is one of `ids`, however many, sent as one parameter (a list of 200,000 binds is refused)."""
    return among(tasks.c.id, ids, session.get_bind().dialect.name == "postgresql")


def put_created(
    session: Session,
    condition: ColumnElement[bool],
    assignment_id: int,
    period: str,
    trigger_at: datetime,
    overdue_at: datetime,
    *,
    with_target: bool,
) -> None:
    """Count the tasks a fan-out just created: all open, on one timeline, so only their units vary.

    The general `put` reads each task's row for its key; here the key is known, and the tasks are
    grouped by their unit's parent straight from the index on (assignment, unit), which is what keeps
    counting within a few percent of the fan-out itself.
    """
    measures = [func.count().label("n")]
    if with_target:
        measures += [
            func.coalesce(func.sum(tasks.c.target), 0.0).label("target"),
            func.count(tasks.c.target).label("targeted"),
        ]
    by_parent = (
        select(units.c.parent_id.label("parent_id"), *measures)
        .select_from(tasks.join(units, units.c.id == tasks.c.unit_id))
        .where(condition, units.c.parent_id.is_not(None))
        .group_by(units.c.parent_id)
        .subquery("g")
    )
    parents = units.alias("p")
    depths = _depths()
    node = func.substr(parents.c.path, 1, depths.c.k * SEGMENT).label("node")
    rows = (
        select(
            node,
            literal(assignment_id, Integer).label("assignment_id"),
            literal(period, String).label("period"),
            literal(trigger_at, Instant()).label("trigger_at"),
            literal(TaskState.open.value, String).label("state"),
            literal(overdue_at, Instant()).label("overdue_at"),
            false().label("late"),
            func.sum(by_parent.c.n).label("n"),
            literal(0.0, Float).label("progress"),
            (func.sum(by_parent.c.target) if with_target else literal(0.0, Float)).label("target"),
            (func.sum(by_parent.c.targeted) if with_target else literal(0, Integer)).label("targeted"),
        )
        .select_from(
            by_parent.join(parents, parents.c.id == by_parent.c.parent_id).join(
                depths, depths.c.k * SEGMENT <= func.length(parents.c.path)
            )
        )
        .group_by(node)
    )
    stmt, sums = _upsert(session)
    session.execute(
        stmt.from_select([*KEY, *SUMS], rows).on_conflict_do_update(index_elements=list(KEY), set_=sums)
    )


def _depths() -> Any:
    """1, 2, … MAX_DEPTH: the path prefixes of a unit's ancestors are its first k segments."""
    depths = select(literal(1).label("k")).cte("depths", recursive=True)
    return depths.union_all(select(depths.c.k + 1).where(depths.c.k < MAX_DEPTH))


def put(session: Session, condition: ColumnElement[bool]) -> None:
    """Count the tasks matching `condition` in the rows of every unit above them."""
    _apply(session, condition, 1)


def take(session: Session, condition: ColumnElement[bool]) -> None:
    """Remove the tasks matching `condition` from the counts, before a set-based change to them."""
    _apply(session, condition, -1)


def drop_empty(session: Session) -> None:
    """Delete the rows moves have emptied (found through the partial index on n = 0)."""
    session.execute(delete(counts).where(counts.c.n == 0))


def shift(session: Session, path: str, before: Counted | None, after: Counted | None) -> None:
    """One task of the unit at `path` moved from `before` to `after` (None: did not count, or no longer does)."""
    shift_many(session, [(path, before, after)])


# The count table's columns for the driver-level upsert (engine/store/bulk.py): name, PostgreSQL type.
_COLUMNS = (
    ("node", "text"),
    ("assignment_id", "integer"),
    ("period", "text"),
    ("trigger_at", "timestamptz"),
    ("state", "text"),
    ("overdue_at", "timestamptz"),
    ("late", "boolean"),
    ("n", "integer"),
    ("progress", "float8"),
    ("target", "float8"),
    ("targeted", "integer"),
)
_ADD = f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET " + ", ".join(
    f"{name} = task_count.{name} + excluded.{name}" for name in SUMS
)


def shift_many(session: Session, moves: Iterable[tuple[str, Counted | None, Counted | None]]) -> None:
    """Tasks moved from one key to another (each: its unit's path, before, after); one upsert for them all.

    The moves are summed by parent unit first (tasks moved together mostly share parents),
    then spread to each parent's ancestors, and written as plain rows on the driver.
    """
    # A Counted holds the task's progress and target too, so tasks grouped under one (parent, before,
    # after) all add the same amounts: n times each.
    by_parent: dict[tuple[str, Counted | None, Counted | None], int] = {}
    for path, before, after in moves:
        if before != after:
            group = (path[:-SEGMENT], before, after)
            by_parent[group] = by_parent.get(group, 0) + 1
    deltas: dict[tuple[Any, ...], list[float]] = {}
    for (parent, before, after), n in by_parent.items():
        for c, sign in ((before, -n), (after, n)):
            if c is None:
                continue
            key = (c.assignment_id, c.period, c.trigger_at, c.state, c.overdue_at, c.late)
            for node in _prefixes(parent):
                sums = deltas.setdefault((node, *key), [0, 0.0, 0.0, 0])
                sums[0] += sign
                sums[1] += sign * c.progress
                sums[2] += sign * (c.target or 0.0)
                sums[3] += sign * (c.target is not None)
    rows = [(*key, *sums) for key, sums in deltas.items() if any(sums)]
    if not rows:
        return
    bulk = Bulk(session)
    bulk.insert(
        "task_count",
        _COLUMNS,
        [
            (node, a, period, bulk.instant(trig), state, bulk.instant(at), bool(late), int(n), p, t, int(tn))
            for node, a, period, trig, state, at, late, n, p, t, tn in rows
        ],
        on_conflict=_ADD,
    )
    drop_empty(session)


def _prefixes(path: str) -> Iterable[str]:
    """The unit at `path` and every unit above it."""
    return (path[:end] for end in range(SEGMENT, len(path) + 1, SEGMENT))


def _above(path: str) -> Iterable[str]:
    """The paths of the units strictly above the unit at `path`."""
    return (path[:end] for end in range(SEGMENT, len(path), SEGMENT))


def rebuild(session: Session) -> None:
    """Count every task afresh: after a migration, or to repair a database written around the engine."""
    session.execute(delete(counts))
    put(session, tasks.c.id.is_not(None))
