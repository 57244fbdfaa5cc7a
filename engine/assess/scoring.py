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

Two readings share the one statement per unit and item and the one formula (`item_points`):
`ranking` scores every unit below the union in a single pass that keeps only numbers, the
province's ranking in about the time of its GROUP BYs; `breakdown` builds the score card, every
item with what it gave or cost, for the one unit asked about (or for all when a year is closed
and frozen). A test holds the two to the same totals on both databases.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time
from operator import itemgetter
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, select
from sqlalchemy.orm import Session

from duban.engine.assess.scheme import Scheme, SchemeItem
from duban.engine.org import tree
from duban.engine.runtime import Runtime
from duban.engine.store.models import Assignment, Audit, ScoreAward, Task, TaskState, Unit
from duban.engine.work import catalog

tasks, units, assignments = Task.__table__, Unit.__table__, Assignment.__table__
audit, awards = Audit.__table__, ScoreAward.__table__

COUNTED = (TaskState.open.value, TaskState.submitted.value, TaskState.done.value)
FEW = 500  # up to this many units are read by id; more, by the subtree's range scan


@dataclass
class ItemFigures:
    """What one unit did of one item in the year."""

    tasks: int = 0
    done: int = 0
    late: int = 0
    missing: int = 0
    rejections: int = 0
    quality_points: float = 0.0


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


def _marks() -> Any:
    # Per task, in one read of its history: when it was last handed in, and how often sent back.
    submitted = audit.c.action == "task.submitted"
    return (
        select(
            audit.c.task_id,
            func.max(case((submitted, audit.c.at))).label("at"),
            # An int4, so that the sum over a unit's tasks stays an integer sum: PostgreSQL sums a
            # bigint into a numeric, tens of ms slower at a province's size.
            cast(func.sum(case((submitted, 0), else_=1)), Integer).label("rejections"),
        )
        .where(audit.c.action.in_(("task.submitted", "task.rejected")))
        .group_by(audit.c.task_id)
        .subquery()
    )


def _sums(rt: Runtime, scheme: Scheme, root_path: str, unit_id: int | None) -> Any:
    """Per unit and item: tasks, done, late, missing, sent back — for every unit strictly below `root_path`, or one."""
    marks = _marks()
    done = tasks.c.state == TaskState.done.value
    late = done & marks.c.at.is_not(None) & (marks.c.at > tasks.c.overdue_at)
    missing = (tasks.c.state == TaskState.open.value) & (tasks.c.overdue_at <= rt.now())
    base = (
        tasks.join(units, units.c.id == tasks.c.unit_id)
        .join(assignments, assignments.c.id == tasks.c.assignment_id)
        .outerjoin(marks, marks.c.task_id == tasks.c.id)
    )
    return (
        select(
            tasks.c.unit_id,
            assignments.c.def_id,
            func.count().label("tasks"),
            func.sum(case((done, 1), else_=0)).label("done"),
            func.sum(case((late, 1), else_=0)).label("late"),
            func.sum(case((missing, 1), else_=0)).label("missing"),
            func.sum(func.coalesce(marks.c.rejections, 0)).label("rejections"),
        )
        .select_from(base)
        .where(_scope(rt, scheme, root_path, unit_id))
        .group_by(tasks.c.unit_id, assignments.c.def_id)
    )


def _scope(rt: Runtime, scheme: Scheme, root_path: str, unit_id: int | None) -> Any:
    start, end = year_window(rt, scheme.year)
    return and_(
        tree.strictly_below(root_path),
        *([units.c.id == unit_id] if unit_id is not None else []),
        assignments.c.def_id.in_([i.definition for i in scheme.items]),
        tasks.c.due_at >= start,
        tasks.c.due_at < end,
        tasks.c.state.in_(COUNTED),
    )


def _quality(
    session: Session, scheme: Scheme, root_path: str, unit_id: int | None
) -> dict[tuple[int, str], float]:
    rows = session.execute(
        select(awards.c.unit_id, awards.c.item, func.sum(awards.c.points))
        .select_from(awards.join(units, units.c.id == awards.c.unit_id))
        .where(
            awards.c.scheme_id == scheme.id,
            awards.c.year == scheme.year,
            awards.c.kind == "quality",
            tree.strictly_below(root_path),
            *([awards.c.unit_id == unit_id] if unit_id is not None else []),
        )
        .group_by(awards.c.unit_id, awards.c.item)
    )
    return {(u, d): float(p or 0) for u, d, p in rows.all()}


def gather(
    session: Session, rt: Runtime, scheme: Scheme, root_path: str, unit_id: int | None = None
) -> dict[tuple[int, str], ItemFigures]:
    """(unit id, item) → what the unit did, for every unit strictly below `root_path` (or only `unit_id`)."""
    figures = {
        (r.unit_id, r.def_id): ItemFigures(r.tasks, r.done, r.late, r.missing, r.rejections)
        for r in session.execute(_sums(rt, scheme, root_path, unit_id))
    }
    for key, points in _quality(session, scheme, root_path, unit_id).items():
        if key in figures:
            figures[key].quality_points = points
    return figures


def bonuses(
    session: Session, scheme: Scheme, root_path: str, unit_id: int | None = None
) -> dict[int, list[dict[str, Any]]]:
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
            *([awards.c.unit_id == unit_id] if unit_id is not None else []),
        )
        .order_by(awards.c.id)
    )
    for r in rows:
        bonus = scheme.bonus_item(r.item)
        label, label_en = (bonus.label, bonus.label_en) if bonus else (r.item, None)
        out[r.unit_id].append(
            {"item": r.item, "label": label, "label_en": label_en, "points": r.points, "reason": r.reason}
        )
    return out


def completion_points(item: SchemeItem, tasks: int, done: int) -> float:
    """The item's points less its quality range, in the share of its tasks done."""
    qmax = item.quality.max if item.quality else 0.0
    return (item.points - qmax) * done / tasks if tasks else 0.0


def quality_points(item: SchemeItem, done: int, given: float) -> float:
    """The quality points given, averaged over the done tasks, within the item's range."""
    qmax = item.quality.max if item.quality else 0.0
    return min(qmax, given / done) if done and qmax else 0.0


def item_points(
    item: SchemeItem, tasks: int, done: int, late: int, missing: int, rejections: int, given: float
) -> float:
    """One item's score for one unit: the one formula the ranking and the card share."""
    cut = 0.0
    if late and item.late:
        cut += item.late * late
    if missing and item.missing:
        cut += item.missing * missing
    if rejections and item.rejected:
        cut += item.rejected * rejections
    earned = completion_points(item, tasks, done) + quality_points(item, done, given) + cut
    return round(max(0.0, earned), 2)


def totals(earned: float, full: float, given: Any, cap: float) -> tuple[float, float, float, float]:
    """A unit's (score, points, bonus, 折合得分): its items' scores and points summed in the scheme's
    order, and the bonus points it was given, in the order given, up to the scheme's cap."""
    bonus = min(sum(given), cap)
    normalized = (100.0 * earned / full if full else 0.0) + bonus
    return round(earned, 2), round(full, 2), round(bonus, 2), round(normalized, 2)


def item_score(item: SchemeItem, f: ItemFigures) -> dict[str, Any]:
    """One item's score for one unit, with each part that made it."""
    # Most units lose nothing: the list stays empty without building a row per rule.
    deductions = [
        {"why": why, "count": n, "each": each, "points": each * n}
        for why, n, each in (
            ("late", f.late, item.late),
            ("missing", f.missing, item.missing),
            ("rejected", f.rejections, item.rejected),
        )
        if n and each
    ]
    return {
        "points": item.points,
        "tasks": f.tasks,
        "done": f.done,
        "late": f.late,
        "missing": f.missing,
        "rejections": f.rejections,
        "completion": round(completion_points(item, f.tasks, f.done), 2),
        "quality": round(quality_points(item, f.done, f.quality_points), 2),
        "deductions": deductions,
        "score": item_points(item, f.tasks, f.done, f.late, f.missing, f.rejections, f.quality_points),
    }


def ranking(session: Session, rt: Runtime, scheme: Scheme, root: Unit) -> dict[str, Any]:
    """Every unit below `root` with its total score, ranked among its level; no item breakdown (see `breakdown`).

    One row per unit and item, read with the unit's code, name, level and parent, and scored
    in one pass that keeps nothing per item. A province's units share few distinct figures (so
    many tasks, so many done, late…): each distinct item figure and each distinct total is worked
    out once, so a province's ranking costs little more than its GROUP BYs.
    """
    quality = _quality(session, scheme, root.path, None)
    extra = {u: tuple(b["points"] for b in given) for u, given in bonuses(session, scheme, root.path).items()}
    sums = _sums(rt, scheme, root.path, None).subquery()
    parent = units.alias("parent")
    result = session.execute(
        select(
            sums.c.unit_id,
            sums.c.def_id,
            sums.c.tasks,
            sums.c.done,
            sums.c.late,
            sums.c.missing,
            sums.c.rejections,
            units.c.code,
            units.c.name,
            units.c.level,
            parent.c.code,
        ).select_from(
            sums.join(units, units.c.id == sums.c.unit_id).outerjoin(parent, parent.c.id == units.c.parent_id)
        )
    )
    # The driver's plain tuples: a province of SQLAlchemy Rows outlives the garbage collector's young
    # generations and sets off full collections (tens of ms a ranking); these columns need no conversion.
    rows = result.cursor.fetchall()
    result.close()
    place = {item.definition: (i, item) for i, item in enumerate(scheme.items)}
    full = [item.points for item in scheme.items]
    cap = sum(b.max for b in scheme.bonus)
    one_item = len(scheme.items) == 1
    # Pure functions of what they are given, so remembered: (item, figures) → score; (score, points,
    # bonuses) → the unit's totals.
    item_memo: dict[tuple[Any, ...], float] = {}
    totals_memo: dict[tuple[Any, ...], tuple[float, float, float, float]] = {}
    levels: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def add(
        unit_id: int, code: str, name: str, level: str, parent_code: str | None, earned: float, most: float
    ) -> None:
        key = (earned, most, extra.get(unit_id, ()))
        made = totals_memo.get(key)
        if made is None:
            made = totals_memo[key] = totals(*key, cap)
        levels[level].append(
            {
                "code": code,
                "name": name,
                "level": level,
                "parent": parent_code,
                "score": made[0],
                "points": made[1],
                "bonus": made[2],
                "normalized": made[3],
            }
        )

    given_bonus: set[int] = set()
    several: dict[int, list[Any]] = {}  # a unit's rows need not come together: held until all are read
    for unit_id, def_id, n, done, late, missing, rejected, code, name, level, parent_code in rows:
        figures = (
            def_id,
            n,
            done,
            late,
            missing,
            rejected,
            quality.get((unit_id, def_id), 0.0) if quality else 0.0,
        )
        points = item_memo.get(figures)
        if points is None:
            points = item_memo[figures] = item_points(place[def_id][1], *figures[1:])
        if unit_id in extra:
            given_bonus.add(unit_id)
        if one_item:  # sum([x]) is x: nothing to hold
            add(unit_id, code, name, level, parent_code, points, full[0])
        elif unit_id in several:
            several[unit_id][5].append((place[def_id][0], points))
        else:
            several[unit_id] = [unit_id, code, name, level, parent_code, [(place[def_id][0], points)]]
    for unit_id, code, name, level, parent_code, parts in several.values():
        parts.sort()  # summed in the scheme's order, as the card sums them: the same floats
        add(
            unit_id,
            code,
            name,
            level,
            parent_code,
            sum([p for _, p in parts]),
            sum([full[i] for i, _ in parts]),
        )
    for r in _units(session, root.path, extra.keys() - given_bonus):
        add(r.id, r.code, r.name, r.level, r.parent, sum([]), sum([]))
    return {"levels": {level: _ranked(rows) for level, rows in levels.items()}}


def _units(session: Session, root_path: str, ids: set[int]) -> list[Any]:
    """The units with these ids below `root_path`, each with its parent's code, in path order."""
    if not ids:
        return []
    parent = units.alias("parent")
    query = (
        select(units.c.id, units.c.code, units.c.name, units.c.level, parent.c.code.label("parent"))
        .select_from(units.outerjoin(parent, parent.c.id == units.c.parent_id))
        .order_by(units.c.path)
    )
    if len(ids) <= FEW:
        return list(session.execute(query.where(units.c.id.in_(ids))))
    # The whole subtree in one range scan, filtered here: an IN list of a province's ids would not be.
    return [r for r in session.execute(query.where(tree.strictly_below(root_path))) if r.id in ids]


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Best first; equal scores share a rank (1, 2, 2, 4), the order among them by code (the sort is stable).
    rows.sort(key=itemgetter("code"))
    rows.sort(key=itemgetter("normalized"), reverse=True)
    rank, last = 0, None
    for i, row in enumerate(rows, 1):
        if row["normalized"] != last:
            rank, last = i, row["normalized"]
        row["rank"] = rank
    return rows


def breakdown(
    session: Session, rt: Runtime, scheme: Scheme, root: Unit, unit: Unit | None = None
) -> dict[int, dict[str, Any]]:
    """unit id → its score card: every item it had tasks of, what each gave or cost, its bonuses and totals.

    For every unit below `root`, or only `unit`; not ranked (the rank is the ranking's).
    """
    only = unit.id if unit is not None else None
    figures = gather(session, rt, scheme, root.path, only)
    extra = bonuses(session, scheme, root.path, only)
    names = catalog.newest_titles(session, {i.definition for i in scheme.items})
    by_unit: dict[int, dict[str, ItemFigures]] = defaultdict(dict)
    for (unit_id, def_id), f in figures.items():
        by_unit[unit_id][def_id] = f
    cap = sum(b.max for b in scheme.bonus)
    cards = {}
    for r in _units(session, root.path, by_unit.keys() | extra.keys()):
        items = [
            {
                "definition": item.definition,
                "title": names.get(item.definition, item.definition),
                **item_score(item, by_unit[r.id][item.definition]),
            }
            for item in scheme.items
            if item.definition in by_unit[r.id]
        ]
        given = extra.get(r.id, [])
        total, points, bonus, normalized = totals(
            sum([i["score"] for i in items]),
            sum([i["points"] for i in items]),
            [b["points"] for b in given],
            cap,
        )
        cards[r.id] = {
            "code": r.code,
            "name": r.name,
            "level": r.level,
            "parent": r.parent,
            "score": total,
            "points": points,
            "bonus": bonus,
            "normalized": normalized,
            "items": items,
            "bonuses": given,
        }
    return cards


def score(session: Session, rt: Runtime, scheme: Scheme, root: Unit) -> dict[str, Any]:
    """Every unit below `root` with its whole score card, ranked among its level: what a closed year keeps."""
    levels: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in breakdown(session, rt, scheme, root).values():
        levels[row["level"]].append(row)
    return {"levels": {level: _ranked(rows) for level, rows in levels.items()}}
