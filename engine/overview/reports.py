"""Roll-up reports: how a unit's subtree is doing, per child unit, per item, and both (the matrix).

`rollup` reads the counts the moves keep (engine/store/counts.py): for each child, its row
in `task_count` (the tasks below it) plus its own tasks, and the unit's own tasks — rows
in proportion to children × items, whatever the size of the subtree. Two figures are read
from the tasks they count, each through a partial index, so they cost what there is of them:
the escalated tasks (the sweep escalates without moving counts) and, when the counts say the
report holds targets, the target tasks (a target split down the tree counts once, which
needs each task's parent). `rollup_scan` is the same report from one GROUP BY over every
task of the subtree; it stays as the reference the tests hold the counts to and the baseline
`duban bench` times them against.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Integer, String, bindparam, case, func, literal, literal_column, null, or_, select
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.errors import InvalidInput, Problem
from duban.engine.org import tree
from duban.engine.store.models import Assignment, Task, TaskCount, TaskState, Unit
from duban.engine.store.types import Instant
from duban.engine.time.periods import parse_period
from duban.engine.work import catalog

tasks = Task.__table__
units = Unit.__table__
assignments = Assignment.__table__
counts = TaskCount.__table__
parent_tasks = Task.__table__.alias("parent_task")

UNFINISHED = (TaskState.open.value, TaskState.submitted.value)
FIELDS = (
    "tasks",
    "done",
    "submitted",
    "open",
    "waived",
    "cancelled",
    "overdue",
    "escalated",
    "late",
    "progress",
)


# The statements are built once (per shape) with these parameters: building one costs more than running it.
NOW = bindparam("now", type_=Instant())
ROOT_ID = bindparam("root_id", type_=Integer())
ROOT_PATH = bindparam("root_path", type_=String())
SUBTREE_END = bindparam("subtree_end", type_=String())
CUT = bindparam("cut", type_=Integer())
DEFINITION = bindparam("definition", type_=String())
PERIOD_START = bindparam("period_start", type_=Instant())
PERIOD_END = bindparam("period_end", type_=Instant())


def _task_measures() -> list[Any]:
    """The measures over task rows."""

    def count_if(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    state = tasks.c.state
    return [
        func.count().label("tasks"),
        *[count_if(state == s).label(s) for s in ("done", "submitted", "open", "waived", "cancelled")],
        count_if(state.in_(UNFINISHED) & (tasks.c.overdue_at <= NOW)).label("overdue"),
        count_if(tasks.c.escalation_level > 0).label("escalated"),
        count_if((state == TaskState.done.value) & (tasks.c.finished_at >= tasks.c.overdue_at)).label("late"),
        func.coalesce(func.sum(tasks.c.progress), 0).label("progress"),
        func.sum(tasks.c.target).label("target"),
    ]


def _count_measures() -> list[Any]:
    """The same measures over count rows: each row stands for `n` tasks."""

    def sum_if(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, counts.c.n), else_=0)), 0)

    state = counts.c.state
    return [
        func.sum(counts.c.n).label("tasks"),
        *[sum_if(state == s).label(s) for s in ("done", "submitted", "open", "waived", "cancelled")],
        sum_if(state.in_(UNFINISHED) & (counts.c.overdue_at <= NOW)).label("overdue"),
        literal(0).label("escalated"),  # from the escalated tasks (_escalated_statement)
        sum_if(counts.c.late).label("late"),
        func.sum(counts.c.progress).label("progress"),
        case((func.sum(counts.c.targeted) > 0, func.sum(counts.c.target)), else_=None).label("target"),
    ]


def row_of(totals: dict[str, Any]) -> dict[str, Any]:
    """Totals as a report row, with the rates.

    done_pct: done of the tasks that count (not waived, not cancelled). on_time_pct: of the
    tasks whose timeliness is settled (done, or unfinished past their deadline), those done
    before their deadline.
    """
    counted = totals["tasks"] - totals["waived"] - totals["cancelled"]
    settled = totals["done"] + totals["overdue"]
    return {
        **{k: int(totals[k]) for k in FIELDS if k != "progress"},
        "progress": round(float(totals["progress"]), 6),
        "target": round(float(totals["target"]), 6) if totals["target"] is not None else None,
        "done_pct": round(100.0 * totals["done"] / counted, 1) if counted > 0 else None,
        "on_time_pct": round(100.0 * (totals["done"] - totals["late"]) / settled, 1) if settled > 0 else None,
    }


def _zero() -> dict[str, Any]:
    return {**{k: 0 for k in FIELDS}, "target": None}


def _add(into: dict[str, Any], r: Any) -> None:
    m = (
        r._mapping
    )  # by key: a Row's attribute access costs several times more, and this runs per field and group
    for k in FIELDS:
        into[k] += m[k] or 0
    if m["target"] is not None:
        into["target"] = (into["target"] or 0) + m["target"]


def _correct(into: dict[str, Any], progress: float, target: float) -> None:
    """Take out of summed totals what a target split down the tree counted more than once."""
    into["progress"] += progress
    if into["target"] is not None:
        into["target"] += target


def _of_definition(column: Any, filtered: bool) -> list[Any]:
    if not filtered:
        return []
    return [column.in_(select(assignments.c.id).where(assignments.c.def_id == DEFINITION))]


def _of_period(dated: bool, trigger_at: Any = tasks.c.trigger_at) -> list[Any]:
    """A task is in a period when its trigger is: a recurring task's own period, a one-off's assignment.

    The counts are keyed by the trigger too, so the same condition picks their rows exactly.
    """
    return [trigger_at >= PERIOD_START, trigger_at < PERIOD_END] if dated else []


@cache
def _scan_statement(filtered: bool, dated: bool = False) -> Any:
    """(prefix, assignment_id, measures…): every task of the subtree, its unit path cut to the child's prefix."""
    prefix = func.substr(units.c.path, 1, CUT).label("prefix")
    return (
        select(prefix, tasks.c.assignment_id, *_task_measures())
        .select_from(tasks.join(units, units.c.id == tasks.c.unit_id))
        .where(
            units.c.path >= ROOT_PATH,
            units.c.path < SUBTREE_END,
            *_of_definition(tasks.c.assignment_id, filtered),
            *_of_period(dated),
        )
        .group_by(prefix, tasks.c.assignment_id)
    )


# Whether the task's parent unit has a task of the same assignment, period and subject: a target split
# down the tree counts at the highest task of a group only, not once per level (10 split 4/4/3 is 10).
_PARENT_TASK = (
    select(parent_tasks.c.id)
    .where(
        parent_tasks.c.assignment_id == tasks.c.assignment_id,
        parent_tasks.c.period == tasks.c.period,
        parent_tasks.c.subject == tasks.c.subject,
        parent_tasks.c.unit_id == units.c.parent_id,
    )
    .exists()
)


@cache
def _target_statement(filtered: bool, dated: bool) -> Any:
    """Per (child prefix, assignment), over target tasks only: every task's progress and target, and
    those of the tasks that count for the child's row (its head, or no task above) and for the whole
    report (the root's, or no task above within the subtree)."""
    prefix = func.substr(units.c.path, 1, CUT).label("prefix")
    child_top = (units.c.path == prefix) | ~_PARENT_TASK
    root_top = (units.c.id == ROOT_ID) | ~_PARENT_TASK

    def sum_if(cond: Any, column: Any) -> Any:
        return func.coalesce(func.sum(case((cond, column), else_=0)), 0)

    return (
        select(
            prefix,
            tasks.c.assignment_id,
            func.coalesce(func.sum(tasks.c.progress), 0).label("all_progress"),
            func.coalesce(func.sum(tasks.c.target), 0).label("all_target"),
            sum_if(child_top, tasks.c.progress).label("child_progress"),
            sum_if(child_top, tasks.c.target).label("child_target"),
            sum_if(root_top, tasks.c.progress).label("total_progress"),
            sum_if(root_top, tasks.c.target).label("total_target"),
        )
        .select_from(tasks.join(units, units.c.id == tasks.c.unit_id))
        .where(
            units.c.path >= ROOT_PATH,
            units.c.path < SUBTREE_END,
            tasks.c.target.is_not(None),
            *_of_definition(tasks.c.assignment_id, filtered),
            *_of_period(dated),
        )
        .group_by(prefix, tasks.c.assignment_id)
    )


@cache
def _count_statements(filtered: bool, dated: bool, sqlite: bool) -> tuple[Any, Any, Any]:
    """The same groups from the counts: each child's row, the own tasks of the children and the root,
    and the escalated tasks below the children."""
    children = select(units.c.path).where(units.c.parent_id == ROOT_ID)
    below = (
        select(counts.c.node.label("prefix"), counts.c.assignment_id, *_count_measures())
        .where(
            counts.c.node.in_(children),
            *_of_definition(counts.c.assignment_id, filtered),
            *_of_period(dated, counts.c.trigger_at),
        )
        .group_by(counts.c.node, counts.c.assignment_id)
    )
    own = (
        select(units.c.path.label("prefix"), tasks.c.assignment_id, *_task_measures())
        .select_from(tasks.join(units, units.c.id == tasks.c.unit_id))
        .where(
            or_(units.c.parent_id == ROOT_ID, units.c.id == ROOT_ID),
            *_of_definition(tasks.c.assignment_id, filtered),
            *_of_period(dated),
        )
        .group_by(units.c.path, tasks.c.assignment_id)
    )
    return below, own, _escalated_statement(filtered, dated, sqlite)


def _escalated_statement(filtered: bool, dated: bool, sqlite: bool) -> Any:
    """(prefix, assignment_id, escalated, the other measures 0): the escalated tasks strictly below the
    children, through `ix_task_escalated` (the children's and the root's own are in `own`)."""
    # SQLite, which keeps no statistics here, would walk the subtree's units and probe each for escalated
    # tasks (50,000 probes for a province with none); kept off the path index (`+path`), it reads the
    # escalated tasks first and looks up their units. PostgreSQL chooses by its statistics.
    path = literal_column("+unit.path", String) if sqlite else units.c.path
    prefix = func.substr(units.c.path, 1, CUT).label("prefix")
    zero = {name: literal(0) for name in FIELDS}
    measures = [(func.count() if name == "escalated" else zero[name]).label(name) for name in FIELDS]
    return (
        select(prefix, tasks.c.assignment_id, *measures, null().label("target"))
        .select_from(tasks.join(units, units.c.id == tasks.c.unit_id))
        .where(
            # A literal, not a parameter: the partial index's own condition, which the planners must see.
            tasks.c.escalation_level > literal_column("0"),
            path > ROOT_PATH,
            path < SUBTREE_END,
            func.length(units.c.path) > CUT,
            *_of_definition(tasks.c.assignment_id, filtered),
            *_of_period(dated),
        )
        .group_by(prefix, tasks.c.assignment_id)
    )


def _params(
    root: Unit, now: datetime, definition: str | None, window: tuple[datetime, datetime] | None = None
) -> dict[str, Any]:
    return {
        "now": now,
        "root_id": root.id,
        "root_path": root.path,
        "subtree_end": root.path + "~",
        "cut": len(root.path) + tree.SEGMENT,
        "definition": definition,
        "period_start": window[0] if window else None,
        "period_end": window[1] if window else None,
    }


def period_window(label: str, tz: Any) -> tuple[datetime, datetime]:
    """The instants a period label (2026, 2026-H1, 2026-Q1, 2026-03, 2026-W10) spans."""
    try:
        period = parse_period(label)
    except ValueError as exc:
        raise InvalidInput([Problem("report", "period", str(exc))]) from None
    start = datetime.combine(period.start, time(0), tz)
    return start, datetime.combine(period.end + timedelta(days=1), time(0), tz)


def _scan_groups(
    session: Session,
    root: Unit,
    now: datetime,
    definition: str | None,
    window: tuple[datetime, datetime] | None = None,
) -> list[Any]:
    statement = _scan_statement(bool(definition), window is not None)
    return list(session.execute(statement, _params(root, now, definition, window)).all())


def _count_groups(
    session: Session,
    root: Unit,
    now: datetime,
    definition: str | None,
    window: tuple[datetime, datetime] | None = None,
) -> list[Any]:
    params = _params(root, now, definition, window)
    return [
        row
        for statement in _count_statements(
            bool(definition), window is not None, session.get_bind().dialect.name == "sqlite"
        )
        for row in session.execute(statement, params).all()
    ]


def rollup(
    session: Session,
    now: datetime,
    actor: Actor,
    code: str,
    definition: str | None = None,
    period: str | None = None,
    tz: Any = None,
    plan: str | None = None,
) -> dict[str, Any]:
    """Per child unit, per item and per child × item: tasks, done, open, overdue, escalated, rates, progress.

    Answered from the counts the moves keep, never from a scan of the subtree's tasks (its escalated
    tasks, and its target tasks when it holds targets, are read through their own indexes). `period`
    (a label such as 2026 or 2026-Q1) keeps the tasks whose trigger falls in it, which the counts'
    key holds too.
    """
    root = _visible(session, actor, code)
    window = period_window(period, tz or now.tzinfo) if period else None
    groups = _count_groups(session, root, now, definition, window)
    if plan:
        # Only the assignments made with the plan (assign --plan); the groups are per assignment.
        made = set(session.scalars(select(assignments.c.id).where(assignments.c.plan_id == plan)))
        groups = [g for g in groups if g.assignment_id in made]
    doc = _report(session, root, now, definition, groups, window, period)
    return {**doc, "plan": plan} if plan else doc


def rollup_scan(
    session: Session,
    now: datetime,
    actor: Actor,
    code: str,
    definition: str | None = None,
    period: str | None = None,
    tz: Any = None,
) -> dict[str, Any]:
    """The same report from a scan of every task of the subtree (the reference and the bench's baseline)."""
    root = _visible(session, actor, code)
    window = period_window(period, tz or now.tzinfo) if period else None
    groups = _scan_groups(session, root, now, definition, window)
    return _report(session, root, now, definition, groups, window, period)


def _visible(session: Session, actor: Actor, code: str) -> Unit:
    root = tree.get_unit(session, code)
    permissions.require_sees(actor, root.path, root.code)
    return root


def _report(
    session: Session,
    root: Unit,
    now: datetime,
    definition: str | None,
    groups: list[Any],
    window: tuple[datetime, datetime] | None = None,
    period: str | None = None,
) -> dict[str, Any]:
    def_of = (
        dict(
            session.execute(
                select(assignments.c.id, assignments.c.def_id).where(
                    assignments.c.id.in_({g.assignment_id for g in groups})
                )
            ).all()
        )
        if groups
        else {}
    )
    children = {
        r.path: r
        for r in session.execute(
            select(units.c.path, units.c.code, units.c.name, units.c.level).where(
                units.c.parent_id == root.id
            )
        )
    }
    total, own = _zero(), None
    by_child = {path: _zero() for path in children}
    by_def: dict[str, dict[str, Any]] = {}
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for g in groups:
        def_id = def_of[g.assignment_id]
        _add(total, g)
        _add(by_def.setdefault(def_id, _zero()), g)
        if g.prefix == root.path:
            own = own or _zero()
            _add(own, g)
        elif g.prefix in by_child:
            _add(by_child[g.prefix], g)
            _add(cells.setdefault((g.prefix, def_id), _zero()), g)
    # Only when a group holds targets: the statement reads the subtree's target tasks.
    targets = (
        session.execute(
            _target_statement(bool(definition), window is not None), _params(root, now, definition, window)
        ).all()
        if any(g.target is not None for g in groups)
        else []
    )
    for t in targets:
        def_id = def_of.get(t.assignment_id)
        if def_id is None:
            continue
        whole = (t.total_progress - t.all_progress, t.total_target - t.all_target)
        _correct(total, *whole)
        _correct(by_def[def_id], *whole)
        if t.prefix in by_child:
            part = (t.child_progress - t.all_progress, t.child_target - t.all_target)
            _correct(by_child[t.prefix], *part)
            if (t.prefix, def_id) in cells:
                _correct(cells[(t.prefix, def_id)], *part)
    titles = catalog.newest_titles(session, set(by_def))
    ordered = sorted(children.items(), key=lambda item: item[1].code)
    return {
        "unit": {"code": root.code, "name": root.name, "level": root.level},
        "as_of": now.isoformat(),
        "definition": definition,
        "period": period,
        "total": row_of(total),
        "own": row_of(own) if own is not None else None,
        "children": [
            {"code": c.code, "name": c.name, "level": c.level, **row_of(by_child[path])}
            for path, c in ordered
        ],
        "definitions": [
            {"definition_id": d, "title": titles.get(d, d), **row_of(by_def[d])} for d in sorted(by_def)
        ],
        # The unit × item matrix: for each child (in the order of `children`), a cell per item it has tasks of.
        "matrix": [
            {
                "code": c.code,
                "cells": {d: row_of(cells[(path, d)]) for d in sorted(by_def) if (path, d) in cells},
            }
            for path, c in ordered
        ],
    }
