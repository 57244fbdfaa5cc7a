"""Who a relative name points at: parent, grandparent, issuer, or the ancestor at a level.

Escalation steps and approval chains both name units this way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.engine.store.models import Unit
from duban.engine.store.paths import ancestor_ids

units = Unit.__table__


def pick(to: str, above: list[int], issuer_unit_id: int, level_of: Mapping[int, str]) -> int | None:
    """The unit id `to` names, given the unit's ancestors (root first) and their levels; None when none."""
    if to == "issuer":
        return issuer_unit_id
    if to == "parent":
        return above[-1] if above else None
    if to == "grandparent":
        return above[-2] if len(above) >= 2 else None
    return next((u for u in above if level_of.get(u) == to), None)


def step_approver(
    chain: list[str], step: int, above: list[int], issuer_unit_id: int, level_of: Mapping[int, str]
) -> tuple[int | None, int]:
    """The unit approving step `step` of `chain` and the step it is at: steps naming no unit are skipped."""
    while step < len(chain):
        unit_id = pick(chain[step], above, issuer_unit_id, level_of)
        if unit_id is not None:
            return unit_id, step
        step += 1
    return None, step


def levels(session: Session, unit_ids: Iterable[int]) -> dict[int, str]:
    """The level of each unit (the ancestors a relative name is resolved among)."""
    return dict(session.execute(select(units.c.id, units.c.level).where(units.c.id.in_(set(unit_ids)))).all())


def resolve(session: Session, unit_path: str, issuer_unit_id: int, to: str) -> int | None:
    """The unit id `to` names for the unit at `unit_path`; None when there is no such unit."""
    above = ancestor_ids(unit_path)[:-1]  # root first, without the unit itself
    level_of = levels(session, above) if to not in ("issuer", "parent", "grandparent") else {}
    return pick(to, above, issuer_unit_id, level_of)


def approver(
    session: Session, unit_path: str, issuer_unit_id: int, chain: list[str], step: int
) -> tuple[int | None, int]:
    """`step_approver` for one unit, reading its ancestors' levels."""
    above = ancestor_ids(unit_path)[:-1]
    return step_approver(chain, step, above, issuer_unit_id, levels(session, above))


def parent_of(session: Session, unit_id: int) -> int | None:
    """The unit's parent id; None for a root."""
    return session.execute(select(units.c.parent_id).where(units.c.id == unit_id)).scalar()
