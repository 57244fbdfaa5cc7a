"""Small queries the HTTP API needs that no other service offers yet.

Reads of the caller's subtree (units, one unit), the caller's inbox, one evidence
file, the definitions catalog as JSON and a month of the working calendar. Every
read is confined through the permissions module.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import String, func, literal, select, update
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.errors import InvalidInput, NotFound, Problem
from duban.engine.org import tree
from duban.engine.store.models import Attachment, InboxItem, Notification, Task, Unit
from duban.engine.time.calendar import WorkCalendar
from duban.engine.work import catalog
from duban.engine.work.attachments import blob_path

units = Unit.__table__
MAX_PAGE = 500


def unit_json(u: Any) -> dict[str, Any]:
    """The JSON of one unit."""
    return {
        "code": u.code,
        "name": u.name,
        "level": u.level,
        "depth": u.depth,
        "tags": [t for t in (u.tags or "").split(";") if t],
        "attrs": u.attrs or {},
    }


def _page(limit: int, offset: int, where: str) -> None:
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidInput([Problem(where, "limit", f"limit 1..{MAX_PAGE}, offset ≥ 0")])


def list_units(
    session: Session,
    actor: Actor,
    root: str | None = None,
    level: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of the units in the actor's subtree (or in the subtree of `root`, if visible), by path."""
    _page(limit, offset, "units")
    if root:
        unit = tree.get_unit(session, root)
        permissions.require_sees(actor, unit.path, unit.code)
        path = unit.path
    else:
        path = actor.unit_path
    conds = [tree.in_subtree(path)] if path else []
    if level:
        conds.append(units.c.level == level)
    rows = session.execute(
        select(units).where(*conds).order_by(units.c.path).limit(limit).offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(units).where(*conds))
    parents = {r.parent_id for r in rows if r.parent_id}
    codes = (
        dict(session.execute(select(units.c.id, units.c.code).where(units.c.id.in_(parents))).all())
        if parents
        else {}
    )
    items = [unit_json(r) | {"parent_code": codes.get(r.parent_id)} for r in rows]
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def show_unit(session: Session, actor: Actor, code: str) -> dict[str, Any]:
    """One unit of the actor's subtree, with its parent's code and its children."""
    unit = tree.get_unit(session, code)
    permissions.require_sees(actor, unit.path, unit.code)
    parent = session.get(Unit, unit.parent_id) if unit.parent_id else None
    children = session.execute(
        select(units.c.code, units.c.name, units.c.level)
        .where(units.c.parent_id == unit.id)
        .order_by(units.c.code)
    ).all()
    doc = unit_json(unit)
    # The parent is named only when the caller sees it too.
    doc["parent_code"] = parent.code if parent is not None and permissions.sees(actor, parent.path) else None
    doc["children"] = [{"code": c.code, "name": c.name, "level": c.level} for c in children]
    return doc


def definition_summary(row: Any) -> dict[str, Any]:
    """One stored definition version, briefly."""
    body = row.body or {}
    return {
        "id": row.def_id,
        "version": row.version,
        "title": row.title,
        "title_en": body.get("title_en"),
        "source": body.get("source"),
        "defaults": body.get("defaults", []),
        "loaded_at": row.loaded_at.isoformat() if row.loaded_at else None,
    }


def list_definitions(session: Session) -> list[dict[str, Any]]:
    """The newest version of every definition."""
    return [definition_summary(r) for r in catalog.list_definitions(session)]


def show_definition(session: Session, def_id: str) -> dict[str, Any]:
    """The newest version of one definition, with its parsed body and its YAML text."""
    row = catalog.latest_version(session, def_id)
    return definition_summary(row) | {"definition": row.body, "yaml": row.source_text}


def list_inbox(
    session: Session, tz: Any, actor: Actor, unread: bool = False, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """The actor's in-app notices, newest first."""
    _page(limit, offset, "inbox")
    if actor.account_id is None:
        return {"total": 0, "unread": 0, "limit": limit, "offset": offset, "items": []}
    conds = [InboxItem.account_id == actor.account_id]
    unread_cond = InboxItem.read_at.is_(None)  # type: ignore[union-attr]
    if unread:
        conds.append(unread_cond)
    stmt = (
        select(InboxItem, Notification)
        .join(Notification, Notification.id == InboxItem.notification_id)
        .where(*conds)
        .order_by(InboxItem.created_at.desc(), InboxItem.id.desc())
        .limit(limit)
        .offset(offset)  # type: ignore[union-attr]
    )
    items = [
        {
            "id": i.id,
            "kind": n.kind,
            "step": n.step,
            "task_id": n.task_id,
            "payload": n.payload,
            "created_at": i.created_at.astimezone(tz).isoformat(),
            "read_at": i.read_at.astimezone(tz).isoformat() if i.read_at else None,
        }
        for i, n in session.execute(stmt).all()
    ]
    total = session.scalar(select(func.count()).select_from(InboxItem).where(*conds))
    n_unread = session.scalar(
        select(func.count())
        .select_from(InboxItem)
        .where(InboxItem.account_id == actor.account_id, unread_cond)
    )
    return {"total": total, "unread": n_unread, "limit": limit, "offset": offset, "items": items}


def mark_inbox_read(session: Session, now: datetime, actor: Actor, ids: list[int] | None) -> int:
    """Mark the actor's own notices read (all unread ones when `ids` is None); how many changed."""
    if actor.account_id is None:
        return 0
    stmt = update(InboxItem).where(InboxItem.account_id == actor.account_id, InboxItem.read_at.is_(None))  # type: ignore[union-attr]
    if ids is not None:
        stmt = stmt.where(InboxItem.id.in_(ids))  # type: ignore[union-attr]
    return session.execute(stmt.values(read_at=now)).rowcount or 0


def find_attachment(
    session: Session, data_dir: Path, actor: Actor, task_id: int, sha256: str
) -> tuple[Attachment, Path]:
    """One evidence file of a task the actor sees, and where its bytes are."""
    path = session.scalar(
        select(units.c.path).join(Task, Task.unit_id == units.c.id).where(Task.id == task_id)
    )
    if path is None:
        raise NotFound(f"task {task_id} not found")
    permissions.require_task_visible(actor, path, task_id)
    row = session.scalars(
        select(Attachment).where(Attachment.task_id == task_id, Attachment.sha256 == sha256.lower())
    ).first()
    blob = blob_path(data_dir, row.sha256) if row is not None else None
    if row is None or blob is None or not blob.is_file():
        raise NotFound(f"file {sha256} of task {task_id} not found")
    return row, blob


def calendar_month(calendar: WorkCalendar, today: date, month: str | None) -> dict[str, Any]:
    """The calendar's status and every day of one month (YYYY-MM; the current one by default)."""
    first = today.replace(day=1)
    if month:
        try:
            first = datetime.strptime(month, "%Y-%m").date()
        except ValueError:
            raise InvalidInput([Problem("calendar", "month", f"{month!r} is not YYYY-MM")]) from None
        if not 1900 < first.year < 2200:
            raise InvalidInput([Problem("calendar", "month", "the year must lie between 1901 and 2199")])
    nxt = (first + timedelta(days=32)).replace(day=1)
    days = []
    day = first
    while day < nxt:
        days.append(
            {
                "date": day.isoformat(),
                "workday": calendar.is_workday(day),
                "known": calendar.is_known(day.year),
            }
        )
        day += timedelta(days=1)
    return {"status": calendar.status(today).to_json(), "month": first.strftime("%Y-%m"), "days": days}


def task_completion(session: Session, actor: Actor, task_id: int) -> dict[str, Any]:
    """What a task of the actor's subtree asks for on completion (its definition version's `completion`)."""
    return dict(task_definition(session, actor, task_id).get("completion") or {})


def task_definition(session: Session, actor: Actor, task_id: int) -> dict[str, Any]:
    """The definition (the version the task was made from) of a task of the actor's subtree."""
    from duban.engine.store.models import DefinitionVersion

    row = session.execute(
        select(DefinitionVersion.body, units.c.path)
        .select_from(Task)
        .join(DefinitionVersion, DefinitionVersion.id == Task.definition_version_id)
        .join(units, units.c.id == Task.unit_id)
        .where(Task.id == task_id)
    ).first()
    if row is None:
        raise NotFound(f"task {task_id} not found")
    permissions.require_task_visible(actor, row.path, task_id)
    return dict(row.body or {})


def people_of(session: Session, names: set[str]) -> dict[str, dict[str, str]]:
    """Who the account names of a history are: their unit's name and their role."""
    from duban.engine.store.models import Account

    if not names:
        return {}
    rows = session.execute(
        select(Account.name, Account.role, units.c.name.label("unit_name"))
        .join(units, units.c.id == Account.unit_id)
        .where(Account.name.in_(names))  # type: ignore[attr-defined]
    ).all()
    return {r.name: {"unit_name": r.unit_name, "role": r.role} for r in rows}


def task_titles(
    session: Session, task_ids: set[int], within: Actor | None = None
) -> dict[int, dict[str, Any]]:
    """The title, unit and period of tasks named by notices or a redirect; `within`: only those it may see."""
    from duban.engine.store.models import DefinitionVersion

    if not task_ids:
        return {}
    seen = [tree.in_subtree(within.unit_path)] if within is not None and within.unit_path else []
    rows = session.execute(
        select(Task.id, Task.period, DefinitionVersion.title, units.c.name.label("unit_name"))
        .join(DefinitionVersion, DefinitionVersion.id == Task.definition_version_id)
        .join(units, units.c.id == Task.unit_id)
        .where(Task.id.in_(task_ids), *seen)  # type: ignore[union-attr]
    ).all()
    return {r.id: {"title": r.title, "unit_name": r.unit_name, "period": r.period or None} for r in rows}


def find_units(session: Session, actor: Actor, text: str, limit: int = 50) -> list[dict[str, Any]]:
    """Units of the actor's subtree whose name or code holds `text` (all of them, by path, when empty)."""
    conds = [tree.in_subtree(actor.unit_path)] if actor.unit_path else []
    if text:
        needle = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(units.c.name.like(needle, escape="\\") | units.c.code.like(needle, escape="\\"))
    rows = session.execute(
        select(units.c.code, units.c.name, units.c.level, units.c.depth)
        .where(*conds)
        .order_by(units.c.path)
        .limit(limit)
    ).all()
    return [{"code": r.code, "name": r.name, "level": r.level, "depth": r.depth} for r in rows]


def unit_choices(
    session: Session, actor: Actor, text: str, chosen: str, limit: int = 200
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A select's units (`find_units`) and the chosen one, found even when the search leaves it out."""
    found = find_units(session, actor, text, limit)
    unit = next((u for u in found if u["code"] == chosen), None)
    if unit is None and chosen:
        exact = find_units(session, actor, chosen, 1)
        unit = exact[0] if exact and exact[0]["code"] == chosen else None
    return found, unit


def same_assignments(session: Session, def_id: str, scope_code: str) -> list[dict[str, Any]]:
    """Active assignments of a definition to exactly this scope: assigning again would repeat them."""
    from duban.engine.store.models import Assignment, AssignmentState

    rows = session.execute(
        select(Assignment.id, Assignment.created_at, Assignment.last_period, Assignment.due_override)
        .join(units, units.c.id == Assignment.scope_unit_id)
        .where(
            Assignment.def_id == def_id,
            units.c.code == scope_code,
            Assignment.state == AssignmentState.active,
        )
        .order_by(Assignment.id)
    ).all()
    return [
        {"id": r.id, "created_at": r.created_at, "period": r.last_period, "due": r.due_override} for r in rows
    ]


def assigned_items(session: Session) -> list[dict[str, Any]]:
    """The items that have been assigned (a list's item filter offers these, not the whole catalog)."""
    from duban.engine.store.models import Assignment, DefinitionVersion

    rows = session.execute(
        select(Assignment.def_id, func.max(DefinitionVersion.title), func.max(DefinitionVersion.id))
        .join(DefinitionVersion, DefinitionVersion.id == Assignment.definition_version_id)
        .group_by(Assignment.def_id)
        .order_by(Assignment.def_id)
    ).all()
    titles_en = {
        r.id: (r.body or {}).get("title_en")
        for r in session.execute(
            select(DefinitionVersion.id, DefinitionVersion.body).where(
                DefinitionVersion.id.in_([r[2] for r in rows])  # type: ignore[union-attr]
            )
        )
    }
    return [{"id": r[0], "title": r[1], "title_en": titles_en.get(r[2])} for r in rows]


def events_heard(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """The events the actor's units may post that an active assignment listens for, with the items they start.

    An assignment is heard when its scope holds the actor's unit or lies inside the actor's subtree:
    an event posted at a unit outside every scope would create nothing, so it is not offered.
    """
    from duban.engine.language.model import EventTrigger
    from duban.engine.store.models import Assignment, AssignmentState, DefinitionVersion

    scope = units.alias("scope")
    heard = [Assignment.state == AssignmentState.active, Assignment.event_name.is_not(None)]  # type: ignore[union-attr]
    if actor.unit_path:
        mine = literal(actor.unit_path, String)
        heard.append(
            ((mine >= scope.c.path) & (mine < scope.c.path.concat("~")))
            | tree.in_subtree(actor.unit_path, scope.c.path)
        )
    # A province holds hundreds of assignments of one version: each version is read and parsed once.
    pairs = session.execute(
        select(Assignment.event_name, Assignment.definition_version_id)
        .join(scope, scope.c.id == Assignment.scope_unit_id)
        .where(*heard)
        .distinct()
    ).all()
    versions = {
        v.id: v
        for v in session.scalars(
            select(DefinitionVersion).where(DefinitionVersion.id.in_({vid for _, vid in pairs}))  # type: ignore[union-attr]
        )
    }
    events: dict[str, dict[str, Any]] = {}
    for name, vid in sorted(pairs, key=lambda p: (p[0], versions[p[1]].def_id)):
        version = versions[vid]
        defn = catalog.definition_of(version)
        entry = events.setdefault(name, {"event": name, "items": [], "about_person": False})
        if version.def_id not in (i["id"] for i in entry["items"]):
            entry["items"].append({"id": version.def_id, "title": defn.title, "title_en": defn.title_en})
        trigger = defn.trigger
        entry["about_person"] |= isinstance(trigger, EventTrigger) and trigger.about_person
    return list(events.values())


def people_in(session: Session, actor: Actor, unit_code: str) -> list[dict[str, Any]]:
    """The people of one unit of the actor's subtree (whom an event about a person may name)."""
    from duban.engine.store.models import Person

    unit = tree.get_unit(session, unit_code)
    permissions.require_sees(actor, unit.path, unit.code)
    rows = session.execute(
        select(Person.ext_id, Person.name, Person.kind).where(Person.unit_id == unit.id).order_by(Person.name)
    ).all()
    return [{"id": r.ext_id, "name": r.name, "kind": r.kind} for r in rows]
