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

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.org import tree
from duban.engine.store.models import Assignment, Task, TaskState, Unit

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


FIELDS = ("tasks", "done", "submitted", "open", "waived", "overdue", "escalated", "progress")


def _row(totals: dict[str, Any]) -> dict[str, Any]:
    counted = totals["tasks"] - totals["waived"]
    return {
        **{k: int(totals[k]) for k in FIELDS if k != "progress"},
        "progress": float(totals["progress"]),
        "target": float(totals["target"]) if totals["target"] is not None else None,
        "done_pct": round(100.0 * totals["done"] / counted, 1) if counted > 0 else None,
    }


def _zero() -> dict[str, Any]:
    return {**{k: 0 for k in FIELDS}, "target": None}


def _add(into: dict[str, Any], r: Any) -> None:
    for k in FIELDS:
        into[k] += getattr(r, k) or 0
    if r.target is not None:
        into["target"] = (into["target"] or 0) + r.target


def rollup(
    session: Session, now: datetime, actor: Actor, code: str, definition: str | None = None
) -> dict[str, Any]:
    """Per child unit and per definition: tasks, done, open, overdue, escalated, progress and target.

    One scan of the subtree grouped by (child, assignment); the three views are summed from it.
    """
    root = tree.get_unit(session, code)
    permissions.require_sees(actor, root.path, root.code)
    child_prefix = func.substr(units.c.path, 1, len(root.path) + tree.SEGMENT).label("prefix")
    conds = [tree.in_subtree(root.path)]
    if definition:
        conds.append(
            tasks.c.assignment_id.in_(select(assignments.c.id).where(assignments.c.def_id == definition))
        )
    groups = session.execute(
        select(child_prefix, tasks.c.assignment_id, *_measures(now))
        .select_from(tasks.join(units, units.c.id == tasks.c.unit_id))
        .where(*conds)
        .group_by(child_prefix, tasks.c.assignment_id)
    ).all()
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
    for g in groups:
        _add(total, g)
        _add(by_def.setdefault(def_of[g.assignment_id], _zero()), g)
        if g.prefix == root.path:
            own = own or _zero()
            _add(own, g)
        elif g.prefix in by_child:
            _add(by_child[g.prefix], g)
    rows = sorted(
        (
            {"code": c.code, "name": c.name, "level": c.level, **_row(by_child[path])}
            for path, c in children.items()
        ),
        key=lambda x: x["code"],
    )
    return {
        "unit": {"code": root.code, "name": root.name, "level": root.level},
        "as_of": now.isoformat(),
        "definition": definition,
        "total": _row(total),
        "own": _row(own) if own is not None else None,
        "children": rows,
        "definitions": [{"definition_id": d, **_row(by_def[d])} for d in sorted(by_def)],
    }


def rollup_xlsx(report: dict[str, Any]) -> bytes:
    """The report as an XLSX workbook: a sheet per child unit and one per definition."""
    from openpyxl import Workbook

    from duban.engine.overview.sheets_out import append_row

    book = Workbook()
    sheet = book.active
    sheet.title = "下级单位 children"
    cols = [
        "tasks",
        "done",
        "submitted",
        "open",
        "overdue",
        "escalated",
        "waived",
        "progress",
        "target",
        "done_pct",
    ]
    append_row(sheet, ["代码 code", "名称 name", "层级 level", *cols])
    for r in report["children"]:
        append_row(sheet, [r["code"], r["name"], r["level"], *[r[c] for c in cols]])
    defs = book.create_sheet("任务 definitions")
    append_row(defs, ["definition_id", *cols])
    for r in report["definitions"]:
        append_row(defs, [r["definition_id"], *[r[c] for c in cols]])
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
