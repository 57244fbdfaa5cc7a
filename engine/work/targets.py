"""Numeric targets: set at assignment, split down the tree, progress rolled up."""

from __future__ import annotations

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.errors import InvalidInput, NotFound, Problem
from duban.engine.org import tree
from duban.engine.runtime import Runtime
from duban.engine.store import audit, counts
from duban.engine.store.models import Assignment, Target, Task, Unit

tasks = Task.__table__
units = Unit.__table__
targets = Target.__table__


def subtree_progress(session: Session, assignment_id: int, path: str) -> float:
    """The progress reported by every task of the assignment in the subtree at `path`."""
    return float(
        session.scalar(
            select(func.coalesce(func.sum(tasks.c.progress), 0))
            .select_from(tasks.join(units, units.c.id == tasks.c.unit_id))
            .where(tasks.c.assignment_id == assignment_id, tree.in_subtree(path))
        )
    )


def split_target(
    session: Session, rt: Runtime, actor: Actor, assignment_id: int, unit_code: str, shares: dict[str, float]
) -> dict[str, float]:
    """Split a unit's target among its children; the shares must add up to at least the target."""
    now = rt.now()
    unit = tree.get_unit(session, unit_code)
    permissions.can_split_target(actor, unit.path, unit.code)
    if session.get(Assignment, assignment_id) is None:
        raise NotFound(f"assignment {assignment_id} not found")
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
        elif value <= 0:
            problems.append(Problem(where, code, "a share must be greater than 0"))
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
