"""Numeric targets: set at assignment, split down the tree, progress rolled up."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.errors import InvalidInput, NotFound, Problem
from duban.engine.language.model import Target as TargetRule
from duban.engine.org import tree
from duban.engine.runtime import Runtime
from duban.engine.store import audit, counts
from duban.engine.store.models import Assignment, DefinitionVersion, Target, Task, Unit
from duban.engine.work import catalog

tasks = Task.__table__
units = Unit.__table__
targets = Target.__table__


def _siblings_below(task: Task, unit_id: int) -> Any:
    """The tasks of the same assignment, period and subject at the units directly below `unit_id`."""
    return (
        select(tasks.c.id)
        .select_from(tasks.join(units, units.c.id == tasks.c.unit_id))
        .where(
            tasks.c.assignment_id == task.assignment_id,
            tasks.c.period == task.period,
            tasks.c.subject == task.subject,
            units.c.parent_id == unit_id,
        )
    )


def has_child_tasks(session: Session, task: Task, unit_id: int) -> bool:
    """Whether units directly below have tasks of the same assignment and period."""
    return session.execute(_siblings_below(task, unit_id).limit(1)).first() is not None


def children_approved(session: Session, task: Task, unit_id: int) -> float:
    """The approved progress of the tasks directly below: what counts for this task from its children."""
    below = _siblings_below(task, unit_id).subquery()
    return float(
        session.scalar(
            select(func.coalesce(func.sum(tasks.c.progress_approved), 0)).where(tasks.c.id.in_(select(below)))
        )
    )


def counted(counts: str, own: float, children: float, has_children: bool) -> float:
    """What reaches a target under the definition's `counts`.

    both: the unit's own reports plus its children's approved progress; children: only the
    children's where it has children below (a unit without children reports its own); own:
    only the unit's own reports.
    """
    if counts == "own":
        return own
    if counts == "children" and has_children:
        return children
    return own + children


def value_problem(rule: TargetRule | None, value: float) -> str | None:
    """What is wrong with a target value, if anything: not above 0, not finite, or a fraction of a whole-number measure."""
    if not math.isfinite(value) or not 0 < value <= 1e12:
        return f"a target must be a number above 0, not {value:g}"
    if rule is not None and rule.integer and value != int(value):
        return f"{rule.measure} counts whole numbers; {value:g} is not one"
    return None


def split_target(
    session: Session, rt: Runtime, actor: Actor, assignment_id: int, unit_code: str, shares: dict[str, float]
) -> dict[str, float]:
    """Split a unit's target among its children; the shares must add up to at least the target."""
    now = rt.now()
    unit = tree.get_unit(session, unit_code)
    permissions.can_split_target(actor, unit.path, unit.code)
    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound(f"assignment {assignment_id} not found")
    rule = catalog.definition_of(
        session.get(DefinitionVersion, assignment.definition_version_id)
    ).completion.target
    own = session.scalar(
        select(targets.c.value).where(targets.c.assignment_id == assignment_id, targets.c.unit_id == unit.id)
    )
    where = f"split of {unit_code}"
    if own is None:
        raise InvalidInput(
            [Problem(where, "unit", f"{unit_code} has no target under assignment {assignment_id}")]
        )
    children = dict(
        session.execute(select(units.c.code, units.c.id).where(units.c.parent_id == unit.id)).all()
    )
    problems = []
    for code, value in shares.items():
        if code not in children:
            problems.append(Problem(where, code, f"{code} is not a child of {unit_code}"))
        elif problem := value_problem(rule, value):
            problems.append(Problem(where, code, problem))
    total = sum(shares.values())
    if total < own:
        problems.append(
            Problem(where, "total", f"the shares add up to {total:g}, less than the target {own:g}")
        )
    if problems:
        raise InvalidInput(problems)
    for code, value in shares.items():
        child = children[code]
        exists = session.scalar(
            select(targets.c.id).where(targets.c.assignment_id == assignment_id, targets.c.unit_id == child)
        )
        if exists:
            session.execute(
                update(targets).where(targets.c.id == exists).values(value=value, set_by_unit_id=unit.id)
            )
        else:
            session.execute(
                targets.insert().values(
                    assignment_id=assignment_id, unit_id=child, value=value, set_by_unit_id=unit.id
                )
            )
    retargeted = and_(
        tasks.c.assignment_id == assignment_id, tasks.c.unit_id.in_([children[c] for c in shares])
    )
    counts.take(session, retargeted)
    session.execute(
        update(tasks)
        .where(tasks.c.assignment_id == assignment_id, tasks.c.unit_id == bindparam("u"))
        .values(target=bindparam("v"), updated_at=now),
        [{"u": children[c], "v": v} for c, v in shares.items()],
    )
    counts.put(session, retargeted)
    counts.drop_empty(session)
    audit.record(
        session,
        now,
        actor.name,
        "target.split",
        assignment_id=assignment_id,
        unit_id=unit.id,
        payload={"target": own, "shares": shares},
    )
    return shares
