"""Reading tasks: the to-do list, filtered lists with paging, one task with its audit log.

Every query is confined to the actor's subtree through the path index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, true
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.errors import InvalidInput, NotFound, Problem
from duban.engine.org import routing, tree
from duban.engine.store.models import (
    FINISHED_STATES,
    Assignment,
    Attachment,
    Audit,
    DefinitionVersion,
    Person,
    Supervision,
    Task,
    TaskState,
    Unit,
)
from duban.engine.work import catalog

tasks = Task.__table__
units = Unit.__table__
assignments = Assignment.__table__
versions = DefinitionVersion.__table__
people = Person.__table__
UNFINISHED = [TaskState.open.value, TaskState.submitted.value]
MAX_PAGE = 500


@dataclass(frozen=True)
class TaskFilter:
    """What a task list is narrowed to."""

    unit: str | None = None
    subtree: bool = False
    state: str | None = None
    overdue: bool | None = None
    definition: str | None = None
    limit: int = 50
    offset: int = 0
    # The web lists' further narrowing; every one is a condition on an indexed column or the unit join.
    states: tuple[str, ...] = ()
    below: bool = False  # the subtree without the unit itself
    escalated: bool | None = None
    due_before: datetime | None = None  # unfinished tasks due before this instant
    search: str | None = None  # part of a unit's name or code
    ids: tuple[int, ...] | None = None  # only these tasks (a list computed elsewhere, e.g. awaiting approval)
    sort: str = "due"  # one of SORTS
    descending: bool = False


SORTS = ("due", "unit", "item", "state", "updated")


def task_json(row: Any, tz: Any) -> dict[str, Any]:
    """The stable JSON of a task (DESIGN's fields, and a few more)."""
    # By key through the row's mapping: a Row's attribute access costs ~0.3 µs a field, a page of 50 pays it 800 times.
    m = row._mapping
    next_action_at = m["next_action_at"]
    return {
        "id": m["id"],
        "definition_id": m["def_id"],
        "assignment_id": m["assignment_id"],
        "unit_code": m["unit_code"],
        "unit_name": m["unit_name"],
        "subject": m["subject"] or None,
        "period": m["period"] or None,
        "state": m["state"],
        "due_at": m["due_at"].astimezone(tz).isoformat(),
        "overdue_at": m["overdue_at"].astimezone(tz).isoformat(),
        "escalation_level": m["escalation_level"],
        "next_action_at": next_action_at.astimezone(tz).isoformat() if next_action_at else None,
        "progress": m["progress"],
        "progress_own": m["progress_own"],
        "progress_children": m["progress_children"],
        "target": m["target"],
        "calendar_provisional": m["calendar_provisional"],
        "title": m["title"],
    }


_JOINED = (
    tasks.join(units, units.c.id == tasks.c.unit_id)
    .join(assignments, assignments.c.id == tasks.c.assignment_id)
    .join(versions, versions.c.id == tasks.c.definition_version_id)
)
_NAMES = (
    units.c.code.label("unit_code"),
    units.c.name.label("unit_name"),
    assignments.c.def_id,
    versions.c.title,
)
# What `task_json` shows, and no more: a list does not read (or decode) forms, event data and timestamps it drops.
_LISTED = (
    tasks.c.id,
    tasks.c.assignment_id,
    tasks.c.subject,
    tasks.c.period,
    tasks.c.state,
    tasks.c.due_at,
    tasks.c.overdue_at,
    tasks.c.escalation_level,
    tasks.c.next_action_at,
    tasks.c.progress,
    tasks.c.progress_own,
    tasks.c.progress_children,
    tasks.c.target,
    tasks.c.calendar_provisional,
)


def _base() -> Any:
    """Every column of a task, with its unit, definition and title."""
    return select(tasks, *_NAMES).select_from(_JOINED)


def _listing() -> Any:
    """The columns of a task list."""
    return select(*_LISTED, *_NAMES).select_from(_JOINED)


# How an event task's subject reads: the person's name, else the words the event was posted with.
SUBJECT_NAME = func.coalesce(people.c.name, tasks.c.event_data["label"].as_string())
WITH_SUBJECT = and_(tasks.c.subject != "", people.c.ext_id == tasks.c.subject)


def _listing_with_subjects() -> Any:
    """The columns of a task list, with the name of an event task's subject (a member, a cadre, an incident)."""
    return select(*_LISTED, tasks.c.updated_at, *_NAMES, SUBJECT_NAME.label("subject_name")).select_from(
        _JOINED.outerjoin(people, WITH_SUBJECT)
    )


_ORDER = {
    "due": (tasks.c.due_at,),
    "unit": (units.c.path, tasks.c.due_at),
    "item": (assignments.c.def_id, tasks.c.due_at),
    "state": (tasks.c.state, tasks.c.due_at),
    "updated": (tasks.c.updated_at,),
}


_MINE = and_(tasks.c.unit_id == bindparam("unit_id"), tasks.c.state.in_(UNFINISHED))
# The to-do runs on every visit of a branch's home page: its two statements are built once.
_TODO_PAGE = (
    _listing()
    .where(_MINE)
    .order_by(tasks.c.due_at, tasks.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_TODO_COUNT = select(func.count()).select_from(tasks).where(_MINE)


def _check(f: TaskFilter) -> None:
    if not 1 <= f.limit <= MAX_PAGE or f.offset < 0:
        raise InvalidInput([Problem("tasks", "limit", f"limit 1..{MAX_PAGE}, offset ≥ 0")])
    for state in (f.state, *f.states):
        if state is not None and state not in TaskState.__members__:
            raise InvalidInput(
                [Problem("tasks", "state", f"{state!r} is not one of {', '.join(TaskState.__members__)}")]
            )
    if f.sort not in SORTS:
        raise InvalidInput([Problem("tasks", "sort", f"{f.sort!r} is not one of {', '.join(SORTS)}")])


def _scope(session: Session, actor: Actor, f: TaskFilter) -> Any:
    """The units the list covers: one unit, its subtree, or the subtree below it."""
    if f.unit:
        unit = tree.get_unit(session, f.unit)
        permissions.require_sees(actor, unit.path, unit.code)
        root_path, root_id = unit.path, unit.id
    else:
        root_path, root_id = actor.unit_path, actor.unit_id
    if root_id is None:  # the operator, without a unit: everything
        return true()
    if f.below:
        return tree.strictly_below(root_path)
    if f.subtree:
        return tree.in_subtree(root_path)
    return tasks.c.unit_id == root_id


def _conditions(session: Session, now: datetime, actor: Actor, f: TaskFilter) -> list[Any]:
    """The filter as SQL conditions; the unit asked for must lie in the actor's subtree."""
    conds = [_scope(session, actor, f)]
    if f.state:
        conds.append(tasks.c.state == f.state)
    if f.states:
        conds.append(tasks.c.state.in_(f.states))
    if f.overdue is not None:
        late = and_(tasks.c.state.in_(UNFINISHED), tasks.c.overdue_at <= now)
        conds.append(late if f.overdue else ~late)
    if f.escalated is not None:
        up = and_(tasks.c.state.in_(UNFINISHED), tasks.c.escalation_level > 0)
        conds.append(up if f.escalated else ~up)
    if f.due_before is not None:
        conds.append(and_(tasks.c.state.in_(UNFINISHED), tasks.c.due_at < f.due_before))
    if f.definition:
        conds.append(assignments.c.def_id == f.definition)
    if f.search:
        needle = "%" + f.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(or_(units.c.name.like(needle, escape="\\"), units.c.code.like(needle, escape="\\")))
    if f.ids is not None:
        conds.append(tasks.c.id.in_(f.ids or [-1]))
    return conds


def list_tasks(session: Session, now: datetime, tz: Any, actor: Actor, f: TaskFilter) -> dict[str, Any]:
    """A page of tasks visible to the actor, most urgent first (or in `f.sort` order), with the total count."""
    _check(f)
    conds = _conditions(session, now, actor, f)
    where = and_(*conds) if conds else None
    stmt = _listing_with_subjects()
    count = select(func.count()).select_from(
        tasks.join(units, units.c.id == tasks.c.unit_id).join(
            assignments, assignments.c.id == tasks.c.assignment_id
        )
    )
    if where is not None:
        stmt, count = stmt.where(where), count.where(where)
    keys = _ORDER[f.sort]
    order = [k.desc() for k in keys] if f.descending else list(keys)
    rows = session.execute(stmt.order_by(*order, tasks.c.id).limit(f.limit).offset(f.offset)).all()
    return {
        "total": session.scalar(count),
        "limit": f.limit,
        "offset": f.offset,
        "items": [task_json(r, tz) | {"subject_name": r.subject_name} for r in rows],
    }


def awaiting_approval(session: Session, actor: Actor) -> list[int]:
    """The submitted tasks of the actor's subtree whose current approval step is the actor's unit.

    The approver is not stored: it follows from the definition's chain, the step and the tree,
    resolved here for the (few) submitted tasks of the subtree, one ancestor query for all.
    """
    if actor.unit_id is None:
        return []
    rows = session.execute(
        select(
            tasks.c.id,
            tasks.c.approval_step,
            tasks.c.definition_version_id,
            units.c.path,
            assignments.c.issuer_unit_id,
        )
        .select_from(_JOINED)
        .where(tasks.c.state == TaskState.submitted.value, tree.in_subtree(actor.unit_path))
    ).all()
    if not rows:
        return []
    chains = {
        vid: list(((body or {}).get("approval")) or [])
        for vid, body in session.execute(
            select(versions.c.id, versions.c.body).where(
                versions.c.id.in_({r.definition_version_id for r in rows})
            )
        )
    }
    level_of = routing.levels(session, {a for r in rows for a in tree.ancestor_ids(r.path)})
    return [
        r.id
        for r in rows
        if routing.step_approver(
            chains.get(r.definition_version_id, []),
            r.approval_step,
            tree.ancestor_ids(r.path)[:-1],
            r.issuer_unit_id,
            level_of,
        )[0]
        == actor.unit_id
    ]


def todo(
    session: Session, now: datetime, tz: Any, actor: Actor, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """The actor's own unit's unfinished tasks, most urgent first."""
    if actor.unit_id is None:
        raise InvalidInput([Problem("tasks", "unit", "the operator has no unit; pass --unit")])
    rows = session.execute(_TODO_PAGE, {"unit_id": actor.unit_id, "limit": limit, "offset": offset}).all()
    total = session.scalar(_TODO_COUNT, {"unit_id": actor.unit_id})
    return {"total": total, "limit": limit, "offset": offset, "items": [task_json(r, tz) for r in rows]}


def task_summary(session: Session, tz: Any, task_id: int) -> dict[str, Any]:
    """The stable JSON of one task, for a caller that has already been allowed to act on it."""
    row = session.execute(_base().where(tasks.c.id == task_id)).first()
    if row is None:
        raise NotFound(f"task {task_id} not found")
    return task_json(row, tz)


def show_task(session: Session, tz: Any, actor: Actor, task_id: int) -> dict[str, Any]:
    """One task with its form, files and audit log."""
    row = session.execute(_base().where(tasks.c.id == task_id)).first()
    if row is None:
        raise NotFound(f"task {task_id} not found")
    path = session.scalar(select(units.c.path).where(units.c.id == row.unit_id))
    permissions.require_task_visible(actor, path, task_id)
    doc = task_json(row, tz)
    if row.subject:
        doc["subject_name"] = session.scalar(select(people.c.name).where(people.c.ext_id == row.subject)) or (
            row.event_data or {}
        ).get("label")
    doc["form"] = row.form
    doc["submitted_by"] = row.submitted_by
    doc["approval_step"] = row.approval_step
    doc["files"] = [
        {
            "id": a.id,
            "sha256": a.sha256,
            "name": a.filename,
            "label": a.label,
            "size": a.size,
            "type": a.content_type,
        }
        for a in session.scalars(
            select(Attachment).where(Attachment.task_id == task_id).order_by(Attachment.id)
        )
    ]
    doc["audit"] = [
        {"at": e.at.astimezone(tz).isoformat(), "actor": e.actor, "action": e.action, "payload": e.payload}
        for e in session.scalars(select(Audit).where(Audit.task_id == task_id).order_by(Audit.id))
    ]
    return doc


def supervision_list(
    session: Session, tz: Any, actor: Actor, unit_code: str | None = None
) -> list[dict[str, Any]]:
    """督办: unfinished tasks escalated to the unit (the actor's own by default)."""
    if unit_code:
        unit = tree.get_unit(session, unit_code)
        permissions.require_sees(actor, unit.path, unit.code)
        unit_id = unit.id
    else:
        if actor.unit_id is None:
            raise InvalidInput([Problem("supervision", "unit", "the operator has no unit; pass --unit")])
        unit_id = actor.unit_id
    sup = Supervision.__table__
    stmt = (
        _base()
        .add_columns(
            sup.c.level.label("sup_level"),
            sup.c.since,
            units.c.path.label("unit_path"),
            assignments.c.issuer_unit_id,
        )
        .join(sup, sup.c.task_id == tasks.c.id)
        .where(sup.c.unit_id == unit_id, tasks.c.state.not_in([s.value for s in FINISHED_STATES]))
        .order_by(tasks.c.due_at, tasks.c.id)
    )
    rows = session.execute(stmt).all()
    waiting = _waiting_for(session, rows)
    return [
        task_json(r, tz)
        | {"supervised_since": r.since.astimezone(tz).isoformat(), "waiting_for": waiting[r.id]}
        for r in rows
    ]


def _waiting_for(session: Session, rows: list[Any]) -> dict[int, dict[str, Any]]:
    """Who each task waits for: its own unit (role branch), or the unit that is to approve it (role approver)."""
    definitions: dict[int, Any] = {}
    approver_of: dict[int, int | None] = {}
    for r in rows:
        if r.state != TaskState.submitted.value:
            continue
        if r.definition_version_id not in definitions:
            definitions[r.definition_version_id] = catalog.definition_of(
                session.get(DefinitionVersion, r.definition_version_id)
            )
        chain = definitions[r.definition_version_id].approval
        approver_of[r.id], _ = routing.approver(
            session, r.unit_path, r.issuer_unit_id, chain, r.approval_step
        )
    names = {
        u.id: (u.code, u.name)
        for u in session.execute(
            select(units.c.id, units.c.code, units.c.name).where(
                units.c.id.in_({u for u in approver_of.values() if u is not None})
            )
        )
    }
    found: dict[int, dict[str, Any]] = {}
    for r in rows:
        approver = approver_of.get(r.id)
        if approver is not None:
            code, name = names[approver]
            found[r.id] = {"role": "approver", "unit_code": code, "unit_name": name}
        else:
            found[r.id] = {"role": "branch", "unit_code": r.unit_code, "unit_name": r.unit_name}
    return found


def sent_back_reasons(session: Session, task_ids: list[int]) -> dict[int, str]:
    """The reason each of these open tasks was sent back, when a send-back is its latest word."""
    if not task_ids:
        return {}
    latest: dict[int, Any] = {}
    for e in session.execute(
        select(Audit.task_id, Audit.action, Audit.payload)
        .where(
            Audit.task_id.in_(task_ids),  # type: ignore[union-attr]
            Audit.action.in_(("task.rejected", "task.submitted", "task.progressed")),  # type: ignore[attr-defined]
        )
        .order_by(Audit.id)  # type: ignore[arg-type]
    ):
        latest[e.task_id] = e
    return {
        task_id: str((e.payload or {}).get("reason") or "")
        for task_id, e in latest.items()
        if e.action == "task.rejected"
    }
