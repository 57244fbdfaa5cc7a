"""The assessment services: read a union's assessment and a unit's score card, close and reopen
it, give quality and bonus points.

While a year's assessment is open its scores follow the tasks live; closing it freezes the
results as they are (`assessment.results`, every unit's card), so later approvals, extensions
or awards no longer move them. Reopening is an audited action with a reason; closing again
freezes anew. The ranking carries each unit's totals; a unit's item-by-item breakdown is read
when its card is asked for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.assess.scheme import Scheme, scheme_json
from duban.engine.assess.scoring import breakdown, ranking, score
from duban.engine.assess.versions import latest_scheme, schemes_scoring
from duban.engine.errors import Conflict, InvalidInput, NotFound, Problem
from duban.engine.org import tree
from duban.engine.runtime import Runtime
from duban.engine.store import audit
from duban.engine.store.models import Assessment, Assignment, Audit, ScoreAward, Task, TaskState, Unit

assessments, awards = Assessment.__table__, ScoreAward.__table__
CARD_ONLY = frozenset({"items", "bonuses"})  # kept in a closed year's results, shown on the card


def _row(session: Session, scheme_id: str, unit_id: int, year: int) -> Any:
    return session.execute(
        select(assessments).where(
            assessments.c.scheme_id == scheme_id, assessments.c.unit_id == unit_id, assessments.c.year == year
        )
    ).first()


def _head(unit: Unit, version: int, scheme: Any, rt: Runtime) -> dict[str, Any]:
    return {
        "scheme": scheme_json(scheme, version),
        "unit": {"code": unit.code, "name": unit.name, "level": unit.level},
        "year": scheme.year,
        "as_of": rt.local(rt.now()).isoformat(),
    }


def _read(
    session: Session, rt: Runtime, actor: Actor, scheme_id: str, code: str
) -> tuple[Unit, Scheme, dict[str, Any] | None, dict[str, Any]]:
    """(the assessing union, the scheme, the frozen results if closed, the head of what is shown)."""
    unit = tree.get_unit(session, code)
    permissions.require_sees(actor, unit.path, unit.code)
    _, version, scheme = latest_scheme(session, scheme_id)
    row = _row(session, scheme_id, unit.id, scheme.year)
    if row is not None and row.state == "closed":
        frozen = {
            **row.results,
            "closed": True,
            "closed_at": rt.local(row.changed_at).isoformat(),
            "closed_by": row.changed_by,
        }
        return unit, scheme, frozen, {k: v for k, v in frozen.items() if k != "levels"}
    return unit, scheme, None, {**_head(unit, version, scheme, rt), "closed": False}


def assess(session: Session, rt: Runtime, actor: Actor, scheme_id: str, code: str) -> dict[str, Any]:
    """The ranking of the units below `code` under a scheme, each with its totals: frozen once closed, live before."""
    unit, scheme, frozen, head = _read(session, rt, actor, scheme_id, code)
    if frozen is None:
        return {**head, **ranking(session, rt, scheme, unit)}
    levels = {
        level: [{k: v for k, v in r.items() if k not in CARD_ONLY} for r in rows]
        for level, rows in frozen["levels"].items()
    }
    return {**head, "levels": levels}


def card(
    session: Session, rt: Runtime, actor: Actor, scheme_id: str, code: str, unit_code: str
) -> dict[str, Any] | None:
    """One unit's score card under the union `code`: its rank among its level (`ranked` units in all),
    every item with what it gave or cost, and its bonuses; from the frozen results once closed.
    None when the unit has nothing scored under the scheme."""
    unit, scheme, frozen, head = _read(session, rt, actor, scheme_id, code)
    levels = frozen["levels"] if frozen is not None else ranking(session, rt, scheme, unit)["levels"]
    found = next((r for rows in levels.values() for r in rows if r["code"] == unit_code), None)
    if found is None:
        return None
    if frozen is None:
        # The ranking gave the rank; the card's items are read for this one unit.
        one = tree.get_unit(session, unit_code)
        found = {**breakdown(session, rt, scheme, unit, one)[one.id], "rank": found["rank"]}
    return {**head, "card": found, "ranked": len(levels[found["level"]])}


def unit_card(
    session: Session, rt: Runtime, actor: Actor, scheme_id: str, code: str, unit_code: str
) -> dict[str, Any]:
    """`card`, or NotFound when the unit has nothing scored under the scheme."""
    doc = card(session, rt, actor, scheme_id, code, unit_code)
    if doc is None:
        raise NotFound(f"unit {unit_code} is not assessed under {scheme_id} by {code}")
    return doc


def close_assessment(
    session: Session, rt: Runtime, actor: Actor, scheme_id: str, code: str
) -> dict[str, Any]:
    """Freeze the assessment as it stands now; refused if it is closed already."""
    unit = tree.get_unit(session, code)
    permissions.can_assess(actor, unit.path, unit.code)
    version_id, version, scheme = latest_scheme(session, scheme_id)
    row = _row(session, scheme_id, unit.id, scheme.year)
    if row is not None and row.state == "closed":
        raise Conflict(f"the {scheme.year} assessment of {code} under {scheme_id} is closed already")
    results = {**_head(unit, version, scheme, rt), **score(session, rt, scheme, unit)}
    values = {
        "scheme_version_id": version_id,
        "state": "closed",
        "changed_at": rt.now(),
        "changed_by": actor.name,
        "results": results,
    }
    if row is None:
        session.execute(
            assessments.insert().values(scheme_id=scheme_id, unit_id=unit.id, year=scheme.year, **values)
        )
    else:
        session.execute(assessments.update().where(assessments.c.id == row.id).values(**values))
    units_scored = sum(len(v) for v in results["levels"].values())
    audit.record(
        session,
        rt.now(),
        actor.name,
        "assessment.closed",
        unit_id=unit.id,
        payload={"scheme": scheme_id, "version": version, "year": scheme.year, "units": units_scored},
    )
    return {"scheme": scheme_id, "unit": code, "year": scheme.year, "state": "closed", "units": units_scored}


def reopen_assessment(
    session: Session, rt: Runtime, actor: Actor, scheme_id: str, code: str, reason: str
) -> dict[str, Any]:
    """Open a closed assessment again (scores follow the tasks once more); the reason is kept in the audit log."""
    unit = tree.get_unit(session, code)
    permissions.can_assess(actor, unit.path, unit.code)
    _, _, scheme = latest_scheme(session, scheme_id)
    if not reason.strip():
        raise InvalidInput([Problem(code, "reason", "say why the assessment is reopened")])
    row = _row(session, scheme_id, unit.id, scheme.year)
    if row is None or row.state != "closed":
        raise Conflict(f"the {scheme.year} assessment of {code} under {scheme_id} is not closed")
    session.execute(
        assessments.update()
        .where(assessments.c.id == row.id)
        .values(state="open", changed_at=rt.now(), changed_by=actor.name)
    )
    audit.record(
        session,
        rt.now(),
        actor.name,
        "assessment.reopened",
        unit_id=unit.id,
        payload={"scheme": scheme_id, "year": scheme.year, "reason": reason},
    )
    return {"scheme": scheme_id, "unit": code, "year": scheme.year, "state": "open"}


def _refuse_if_closed(session: Session, scheme_id: str, unit: Unit, year: int) -> None:
    # A closed assessment of any union above the unit is frozen: points given now would not show.
    for above in tree.ancestors(session, unit):
        row = _row(session, scheme_id, above.id, year)
        if row is not None and row.state == "closed":
            raise Conflict(
                f"the {year} assessment of {above.code} under {scheme_id} is closed; reopen it first"
            )


def award_bonus(
    session: Session,
    rt: Runtime,
    actor: Actor,
    scheme_id: str,
    assessor: str,
    code: str,
    bonus_id: str,
    points: float,
    reason: str,
) -> dict[str, Any]:
    """Bonus points (加分) for a unit below the assessing union, within the bonus item's maximum."""
    boss, unit = tree.get_unit(session, assessor), tree.get_unit(session, code)
    permissions.can_assess(actor, boss.path, boss.code)
    permissions.can_award_bonus(actor, boss.path, unit.path, unit.code)
    _, _, scheme = latest_scheme(session, scheme_id)
    bonus = scheme.bonus_item(bonus_id)
    if bonus is None:
        known = ", ".join(b.id for b in scheme.bonus) or "none"
        raise InvalidInput(
            [Problem(scheme_id, "bonus", f"no bonus item {bonus_id!r} (the scheme has: {known})")]
        )
    given = sum(
        session.execute(
            select(awards.c.points).where(
                awards.c.scheme_id == scheme_id,
                awards.c.year == scheme.year,
                awards.c.unit_id == unit.id,
                awards.c.kind == "bonus",
                awards.c.item == bonus_id,
            )
        ).scalars()
    )
    if not 0 < points <= bonus.max - given:
        raise InvalidInput(
            [
                Problem(
                    code,
                    "points",
                    f"{bonus.label}: at most {bonus.max:g} points in all, {given:g} given already",
                )
            ]
        )
    if not reason.strip():
        raise InvalidInput([Problem(code, "reason", "say what the bonus is for")])
    _refuse_if_closed(session, scheme_id, unit, scheme.year)
    _award(session, rt, actor, scheme_id, scheme.year, unit.id, "bonus", bonus_id, None, points, reason)
    return {"scheme": scheme_id, "unit": code, "bonus": bonus_id, "points": points}


def award_quality(
    session: Session, rt: Runtime, actor: Actor, task_id: int, points: float
) -> list[dict[str, Any]]:
    """Quality points (评分) on a task just approved, under every scheme of its year that rates the item."""
    row = session.execute(
        select(
            Task.__table__.c.state,
            Task.__table__.c.unit_id,
            Task.__table__.c.due_at,
            Assignment.__table__.c.def_id,
        )
        .join(Assignment.__table__, Assignment.__table__.c.id == Task.__table__.c.assignment_id)
        .where(Task.__table__.c.id == task_id)
    ).first()
    if row is None:
        raise NotFound(f"task {task_id} not found")
    if row.state != TaskState.done.value:
        raise Conflict(f"task {task_id} is not approved; quality is scored on approval")
    approved_by = session.scalar(
        select(Audit.__table__.c.actor)
        .where(Audit.__table__.c.task_id == task_id, Audit.__table__.c.action == "task.approved")
        .order_by(Audit.__table__.c.id.desc())
        .limit(1)
    )
    permissions.can_score_quality(actor, approved_by, task_id)
    year = rt.local(row.due_at).year
    rating = [(v, s) for v, s in schemes_scoring(session, row.def_id, year) if s.item(row.def_id).quality]  # type: ignore[union-attr]
    if not rating:
        raise InvalidInput(
            [Problem(f"task {task_id}", "score", f"no {year} scoring scheme rates the quality of this item")]
        )
    out = []
    for _, scheme in rating:
        qmax = scheme.item(row.def_id).quality.max  # type: ignore[union-attr]
        if not 0 <= points <= qmax:
            raise InvalidInput(
                [Problem(f"task {task_id}", "score", f"{scheme.title}: a score from 0 to {qmax:g}")]
            )
        unit = session.get(Unit, row.unit_id)
        assert unit is not None
        _refuse_if_closed(session, scheme.id, unit, year)
        _award(session, rt, actor, scheme.id, year, row.unit_id, "quality", row.def_id, task_id, points, "")
        out.append({"scheme": scheme.id, "task": task_id, "points": points})
    return out


def _award(
    session: Session,
    rt: Runtime,
    actor: Actor,
    scheme_id: str,
    year: int,
    unit_id: int,
    kind: str,
    item: str,
    task_id: int | None,
    points: float,
    reason: str,
) -> None:
    session.execute(
        awards.insert().values(
            scheme_id=scheme_id,
            year=year,
            unit_id=unit_id,
            kind=kind,
            item=item,
            task_id=task_id,
            points=points,
            reason=reason,
            awarded_by=actor.name,
            awarded_at=rt.now(),
        )
    )
    audit.record(
        session,
        rt.now(),
        actor.name,
        f"score.{kind}",
        task_id=task_id,
        unit_id=unit_id,
        payload={"scheme": scheme_id, "year": year, "item": item, "points": points, "reason": reason},
    )


def closed_at(session: Session, scheme_id: str, unit_id: int, year: int) -> datetime | None:
    """When the assessment was closed, or None while it is open."""
    row = _row(session, scheme_id, unit_id, year)
    return row.changed_at if row is not None and row.state == "closed" else None
