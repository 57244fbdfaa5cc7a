"""Scores: each unit below an assessing union, per item of a scheme, for the scheme's year.

For one unit and one item, over the item's tasks due in the year (waived and cancelled
ones left out):

    completion = (points − quality.max) × done / tasks
    quality    = the approvers' quality points, averaged over the done tasks (0 … quality.max)
    deductions = late × tasks handed in after their deadline
               + missing × tasks still open past their deadline
               + rejected × times the work was sent back
    score      = max(0, completion + quality + deductions)      (扣完为止: never below zero)

"Handed in" is the last submission, not the approval: a slow approver never makes a branch
late. A unit's total is the sum over the items it had tasks of, plus its bonus points; it is
ranked among the units of its own level (乡镇 among 乡镇, 基层 among 基层) by its score out of
100 (折合得分 = 100 × items' score / items' points, plus bonus), so a unit is not ranked down
for items that did not apply to it.

Everything is read in four GROUP BYs over the assessing union's subtree (tasks, rejections,
awards, units): a province is a few range scans, never a walk of the tree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from duban.engine.assess.scheme import Scheme, SchemeItem
from duban.engine.org import tree
from duban.engine.runtime import Runtime
from duban.engine.store.models import Assignment, Audit, ScoreAward, Task, TaskState, Unit
from duban.engine.work import catalog

tasks, units, assignments = Task.__table__, Unit.__table__, Assignment.__table__
audit, awards = Audit.__table__, ScoreAward.__table__

COUNTED = (TaskState.open.value, TaskState.submitted.value, TaskState.done.value)


@dataclass
class ItemFigures:
    """What one unit did of one item in the year."""

    tasks: int = 0
    done: int = 0
    late: int = 0
    missing: int = 0
    rejections: int = 0
    quality_points: float = 0.0
    task_ids: list[int] = field(default_factory=list)


def year_window(rt: Runtime, year: int) -> tuple[datetime, datetime]:
    """The local calendar year as instants: tasks due inside it belong to that year's assessment."""
    start = datetime.combine(datetime(year, 1, 1).date(), time(0), rt.tz)
    end = datetime.combine(datetime(year + 1, 1, 1).date(), time(0), rt.tz)
    return start, end


def _last_submission() -> Any:
    return (
        select(audit.c.task_id, func.max(audit.c.at).label("at"))
        .where(audit.c.action == "task.submitted")
        .group_by(audit.c.task_id)
        .subquery()
    )


def gather(
    session: Session, rt: Runtime, scheme: Scheme, root_path: str
) -> dict[tuple[int, str], ItemFigures]:
    """(unit id, item) → what the unit did, for every unit strictly below `root_path`."""
    start, end = year_window(rt, scheme.year)
    now = rt.now()
    def_ids = [i.definition for i in scheme.items]
    sub = _last_submission()
    done = tasks.c.state == TaskState.done.value
    late = done & sub.c.at.is_not(None) & (sub.c.at > tasks.c.overdue_at)
    missing = (tasks.c.state == TaskState.open.value) & (tasks.c.overdue_at <= now)
    scope = and_(
        tree.strictly_below(root_path),
        assignments.c.def_id.in_(def_ids),
        tasks.c.due_at >= start,
        tasks.c.due_at < end,
        tasks.c.state.in_(COUNTED),
    )
    base = (
        tasks.join(units, units.c.id == tasks.c.unit_id)
        .join(assignments, assignments.c.id == tasks.c.assignment_id)
        .outerjoin(sub, sub.c.task_id == tasks.c.id)
    )
    figures: dict[tuple[int, str], ItemFigures] = defaultdict(ItemFigures)
    rows = session.execute(
        select(
            tasks.c.unit_id,
            assignments.c.def_id,
            func.count().label("tasks"),
            func.sum(case((done, 1), else_=0)).label("done"),
            func.sum(case((late, 1), else_=0)).label("late"),
            func.sum(case((missing, 1), else_=0)).label("missing"),
        )
        .select_from(base)
        .where(scope)
        .group_by(tasks.c.unit_id, assignments.c.def_id)
    )
    for r in rows:
        f = figures[(r.unit_id, r.def_id)]
        f.tasks, f.done, f.late, f.missing = r.tasks, int(r.done or 0), int(r.late or 0), int(r.missing or 0)
    rejected = session.execute(
        select(tasks.c.unit_id, assignments.c.def_id, func.count().label("n"))
        .select_from(
            audit.join(tasks, tasks.c.id == audit.c.task_id)
            .join(units, units.c.id == tasks.c.unit_id)
            .join(assignments, assignments.c.id == tasks.c.assignment_id)
        )
        .where(scope, audit.c.action == "task.rejected")
        .group_by(tasks.c.unit_id, assignments.c.def_id)
    )
    for r in rejected:
        figures[(r.unit_id, r.def_id)].rejections = r.n
    quality = session.execute(
        select(awards.c.unit_id, awards.c.item, func.sum(awards.c.points).label("points"))
        .select_from(awards.join(units, units.c.id == awards.c.unit_id))
        .where(
            awards.c.scheme_id == scheme.id,
            awards.c.year == scheme.year,
            awards.c.kind == "quality",
            tree.strictly_below(root_path),
        )
        .group_by(awards.c.unit_id, awards.c.item)
    )
    for r in quality:
        figures[(r.unit_id, r.item)].quality_points = float(r.points or 0)
    return figures


def bonuses(session: Session, scheme: Scheme, root_path: str) -> dict[int, list[dict[str, Any]]]:
    """unit id → the bonus points it was given, each with its item and reason."""
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = session.execute(
        select(awards.c.unit_id, awards.c.item, awards.c.points, awards.c.reason)
        .select_from(awards.join(units, units.c.id == awards.c.unit_id))
        .where(
            awards.c.scheme_id == scheme.id,
            awards.c.year == scheme.year,
            awards.c.kind == "bonus",
            tree.strictly_below(root_path),
        )
        .order_by(awards.c.id)
    )
    for r in rows:
        bonus = scheme.bonus_item(r.item)
        label = bonus.label if bonus else r.item
        out[r.unit_id].append({"item": r.item, "label": label, "points": r.points, "reason": r.reason})
    return out


def item_score(item: SchemeItem, f: ItemFigures) -> dict[str, Any]:
    """One item's score for one unit, with each part that made it."""
    qmax = item.quality.max if item.quality else 0.0
    completion = (item.points - qmax) * f.done / f.tasks if f.tasks else 0.0
    quality = min(qmax, f.quality_points / f.done) if f.done and qmax else 0.0
    deductions = []
    cut = 0.0
    # Most units lose nothing: the list stays empty without building a row per rule.
    if f.late and item.late:
        deductions.append({"why": "late", "count": f.late, "each": item.late, "points": item.late * f.late})
        cut += item.late * f.late
    if f.missing and item.missing:
        deductions.append(
            {"why": "missing", "count": f.missing, "each": item.missing, "points": item.missing * f.missing}
        )
        cut += item.missing * f.missing
    if f.rejections and item.rejected:
        rejected = item.rejected * f.rejections
        deductions.append(
            {"why": "rejected", "count": f.rejections, "each": item.rejected, "points": rejected}
        )
        cut += rejected
    return {
        "points": item.points,
        "tasks": f.tasks,
        "done": f.done,
        "late": f.late,
        "missing": f.missing,
        "rejections": f.rejections,
        "completion": round(completion, 2),
        "quality": round(quality, 2),
        "deductions": deductions,
        "score": round(max(0.0, completion + quality + cut), 2),
    }


def score(session: Session, rt: Runtime, scheme: Scheme, root: Unit) -> dict[str, Any]:
    """Every unit below `root` scored and ranked among its level; each with its item-by-item breakdown."""
    figures = gather(session, rt, scheme, root.path)
    extra = bonuses(session, scheme, root.path)
    names = catalog.newest_titles(session, {i.definition for i in scheme.items})
    by_unit: dict[int, dict[str, ItemFigures]] = defaultdict(dict)
    for (unit_id, def_id), f in figures.items():
        if f.tasks:
            by_unit[unit_id][def_id] = f
    # The whole subtree in one range scan, filtered here: an IN list of a province's ids would not be.
    rows = [
        r
        for r in session.execute(
            select(units.c.id, units.c.code, units.c.name, units.c.level, units.c.parent_id)
            .where(tree.strictly_below(root.path))
            .order_by(units.c.path)
        )
        if r.id in by_unit or r.id in extra
    ]
    parents = _codes(session, {r.parent_id for r in rows if r.parent_id is not None})
    levels: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        items = []
        for item in scheme.items:
            f = by_unit[r.id].get(item.definition)
            if f is not None:
                one = item_score(item, f)
                items.append(
                    {
                        "definition": item.definition,
                        "title": names.get(item.definition, item.definition),
                        **one,
                    }
                )
        earned = sum(i["score"] for i in items)
        full = sum(i["points"] for i in items)
        bonus = min(sum(b["points"] for b in extra.get(r.id, [])), sum(b.max for b in scheme.bonus))
        levels[r.level].append(
            {
                "code": r.code,
                "name": r.name,
                "level": r.level,
                "parent": parents.get(r.parent_id),
                "score": round(earned, 2),
                "points": round(full, 2),
                "bonus": round(bonus, 2),
                "normalized": round((100.0 * earned / full if full else 0.0) + bonus, 2),
                "items": items,
                "bonuses": extra.get(r.id, []),
            }
        )
    for ranked in levels.values():
        _rank(ranked)
    return {"levels": dict(levels)}


def _codes(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(units.c.id, units.c.code).where(units.c.id.in_(ids))).all())


def _rank(rows: list[dict[str, Any]]) -> None:
    # Best first; equal scores share a rank (1, 2, 2, 4), the order among them by code.
    rows.sort(key=lambda r: (-r["normalized"], r["code"]))
    for i, row in enumerate(rows):
        tie = i > 0 and rows[i - 1]["normalized"] == row["normalized"]
        row["rank"] = rows[i - 1]["rank"] if tie else i + 1
