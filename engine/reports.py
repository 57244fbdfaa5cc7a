"""Roll-up reports: how a unit's subtree is doing, one row per child unit and per definition.

One GROUP BY over the path index: each task's unit path is cut to the child's
prefix, so a province's report is a single range scan, not a tree walk.
"""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine import permissions, tree
from engine.actors import Actor
from engine.models import Assignment, Task, TaskState, Unit

tasks = Task.__table__
units = Unit.__table__
assignments = Assignment.__table__


def _measures(now: datetime) -> list[Any]:
    unfinished = tasks.c.state.in_([TaskState.open.value, TaskState.submitted.value])
    return [
        func.count().label("tasks"),
        func.sum(case((tasks.c.state == TaskState.done.value, 1), else_=0)).label("done"),
        func.sum(case((tasks.c.state == TaskState.submitted.value, 1), else_=0)).label("submitted"),
        func.sum(case((tasks.c.state == TaskState.open.value, 1), else_=0)).label("open"),
        func.sum(case((tasks.c.state == TaskState.waived.value, 1), else_=0)).label("waived"),
        func.sum(case((unfinished & (tasks.c.overdue_at <= now), 1), else_=0)).label("overdue"),
        func.sum(case((tasks.c.escalation_level > 0, 1), else_=0)).label("escalated"),
        func.coalesce(func.sum(tasks.c.progress), 0).label("progress"),
        func.sum(tasks.c.target).label("target"),
    ]


def _row(r: Any) -> dict[str, Any]:
    counted = (r.tasks or 0) - (r.waived or 0)
    return {
        "tasks": r.tasks or 0, "done": r.done or 0, "submitted": r.submitted or 0, "open": r.open or 0,
        "waived": r.waived or 0, "overdue": r.overdue or 0, "escalated": r.escalated or 0,
        "progress": float(r.progress or 0), "target": float(r.target) if r.target is not None else None,
        "done_pct": round(100.0 * (r.done or 0) / counted, 1) if counted > 0 else None,
    }


def rollup(
    session: Session, now: datetime, actor: Actor, code: str, definition: str | None = None
) -> dict[str, Any]:
    """Per child unit and per definition: tasks, done, open, overdue, escalated, progress and target."""
    root = tree.get_unit(session, code)
    permissions.require_sees(actor, root.path, root.code)
    cut = len(root.path) + tree.SEGMENT
    child_prefix = func.substr(units.c.path, 1, cut).label("prefix")
    base = tasks.join(units, units.c.id == tasks.c.unit_id)
    conds = [tree.in_subtree(root.path)]
    if definition:
        base = base.join(assignments, assignments.c.id == tasks.c.assignment_id)
        conds.append(assignments.c.def_id == definition)
    by_child = session.execute(
        select(child_prefix, *_measures(now)).select_from(base).where(*conds).group_by(child_prefix)
    ).all()
    children = {
        r.path: r for r in session.execute(
            select(units.c.path, units.c.code, units.c.name, units.c.level).where(units.c.parent_id == root.id)
        )
    }
    rows = []
    own = None
    for r in by_child:
        if r.prefix == root.path:
            own = _row(r)
            continue
        child = children.get(r.prefix)
        if child is not None:
            rows.append({"code": child.code, "name": child.name, "level": child.level, **_row(r)})
    reported = {x["code"] for x in rows}
    for child in children.values():
        if child.code not in reported:
            rows.append({"code": child.code, "name": child.name, "level": child.level, **_row(_Empty())})
    rows.sort(key=lambda x: x["code"])
    by_def_base = tasks.join(units, units.c.id == tasks.c.unit_id).join(assignments, assignments.c.id == tasks.c.assignment_id)
    by_def = session.execute(
        select(assignments.c.def_id, *_measures(now)).select_from(by_def_base)
        .where(*conds).group_by(assignments.c.def_id).order_by(assignments.c.def_id)
    ).all()
    total = session.execute(select(*_measures(now)).select_from(base).where(*conds)).one()
    return {
        "unit": {"code": root.code, "name": root.name, "level": root.level},
        "as_of": now.isoformat(),
        "definition": definition,
        "total": _row(total),
        "own": own,
        "children": rows,
        "definitions": [{"definition_id": r.def_id, **_row(r)} for r in by_def],
    }


class _Empty:
    tasks = done = submitted = open = waived = overdue = escalated = 0
    progress = 0.0
    target = None


def rollup_xlsx(report: dict[str, Any]) -> bytes:
    """The report as an XLSX workbook: a sheet per child unit and one per definition."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "下级单位 children"
    cols = ["tasks", "done", "submitted", "open", "overdue", "escalated", "waived", "progress", "target", "done_pct"]
    sheet.append(["代码 code", "名称 name", "层级 level", *cols])
    for r in report["children"]:
        sheet.append([r["code"], r["name"], r["level"], *[r[c] for c in cols]])
    defs = book.create_sheet("任务 definitions")
    defs.append(["definition_id", *cols])
    for r in report["definitions"]:
        defs.append([r["definition_id"], *[r[c] for c in cols]])
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()

