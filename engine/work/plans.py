"""Assigning a whole plan: every item of one document to one scope, in one transaction.

Each item goes through the same `assign_definition` as a single assignment. Every item
is tried so that a refusal names every item that cannot be assigned, not only the first;
then, if any was refused, the caller's transaction is rolled back by the raise and
nothing of the plan is assigned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.errors import DubanError, InvalidInput, Problem
from duban.engine.language.model import AssignedTrigger, Definition, DueSetAtAssignment
from duban.engine.language.plans import Plan
from duban.engine.org import tree
from duban.engine.runtime import Runtime
from duban.engine.store import audit
from duban.engine.store.models import Assignment
from duban.engine.work import catalog, fanout

assignments = Assignment.__table__


@dataclass(frozen=True)
class PlanResult:
    """What assigning a plan created, item by item."""

    plan_id: str
    scope: str
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(i["created"] for i in self.items)

    def to_json(self) -> dict[str, Any]:
        return {"plan": self.plan_id, "scope": self.scope, "created": self.created, "items": self.items}


def needs_assigner_date(defn: Definition) -> bool:
    """Whether the item's date is the assigner's to give (择期, or a one-off item with no deadline or window)."""
    if isinstance(defn.due, DueSetAtAssignment):
        return True
    # A window without a due ends on the window's last day: the plan stated it.
    return defn.due is None and defn.window is None and isinstance(defn.trigger, AssignedTrigger)


def _each_item(
    session: Session, plan: Plan, due: date | None, act: Callable[[str, date | None], dict[str, Any]]
) -> list[dict[str, Any]]:
    """`act` on every item (with the assigner's date where the plan leaves it to them); all refusals at once."""
    done: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for def_id in plan.items:
        where = f"{plan.id}: {def_id}"
        try:
            defn = catalog.definition_of(catalog.latest_version(session, def_id))
            done.append({"definition": def_id, **act(def_id, due if needs_assigner_date(defn) else None)})
        except InvalidInput as exc:
            problems += [Problem(where, p.field, p.message) for p in exc.problems]
        except DubanError as exc:
            problems.append(Problem(where, "", exc.message))
    if problems:
        raise InvalidInput(problems)
    return done


def preview_plan(
    session: Session, rt: Runtime, actor: Actor, plan: Plan, scope_code: str, *, due: date | None = None
) -> dict[str, Any]:
    """What assigning the plan would create, item by item, without creating it; refused as `assign_plan` would be."""
    scope = tree.get_unit(session, scope_code)
    permissions.can_assign(actor, scope.path, scope.code)
    items = _each_item(
        session,
        plan,
        due,
        lambda def_id, d: fanout.preview_assignment(session, rt, actor, def_id, scope.code, d),
    )
    return {"plan": plan.id, "scope": scope.code, "tasks": sum(i["tasks"] for i in items), "items": items}


def assign_plan(
    session: Session,
    rt: Runtime,
    actor: Actor,
    plan: Plan,
    scope_code: str,
    *,
    due: date | None = None,
    until: date | None = None,
    **options: Any,
) -> PlanResult:
    """Assign every item of `plan` to the scope; one refused item refuses the whole plan.

    `due` is the assigner's date for the items whose plan leaves the date to the assigner;
    an item with its own deadline keeps it. `until` and `options` (e.g. `late`) apply to
    every item.
    """
    now = rt.now()
    scope = tree.get_unit(session, scope_code)
    permissions.can_assign(actor, scope.path, scope.code)
    made = _each_item(
        session,
        plan,
        due,
        lambda def_id, d: fanout.assign_definition(
            session, rt, actor, def_id, scope.code, due=d, until=until, **options
        ).to_json(),
    )
    ids = [m["assignment_id"] for m in made]
    session.execute(update(assignments).where(assignments.c.id.in_(ids)).values(plan_id=plan.id))
    result = PlanResult(plan.id, scope.code, made)
    audit.record(
        session,
        now,
        actor.name,
        "plan.assigned",
        unit_id=scope.id,
        payload={
            "plan": plan.id,
            "scope": scope.code,
            "items": len(made),
            "created": result.created,
            "due": due.isoformat() if due else None,
        },
    )
    return result
