"""Who a relative name points at: parent, grandparent, issuer, or the ancestor at a level.

Escalation steps and approval chains both name units this way.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.engine.store.models import Unit
from duban.engine.store.paths import ancestor_ids

units = Unit.__table__


def resolve(session: Session, unit_path: str, issuer_unit_id: int, to: str) -> int | None:
    """The unit id `to` names for the unit at `unit_path`; None when there is no such unit."""
    chain = ancestor_ids(unit_path)[:-1]  # root first, without the unit itself
    if to == "issuer":
        return issuer_unit_id
    if to == "parent":
        return chain[-1] if chain else None
    if to == "grandparent":
        return chain[-2] if len(chain) >= 2 else None
    if not chain:
        return None
    rows = session.execute(select(units.c.id).where(units.c.id.in_(chain), units.c.level == to)).first()
    return rows[0] if rows else None


def approver(
    session: Session, unit_path: str, issuer_unit_id: int, chain: list[str], step: int
) -> tuple[int | None, int]:
    """The unit approving step `step` of `chain` and the step it is at: steps naming no unit are skipped."""
    while step < len(chain):
        unit_id = resolve(session, unit_path, issuer_unit_id, chain[step])
        if unit_id is not None:
            return unit_id, step
        step += 1
    return None, step


def parent_of(session: Session, unit_id: int) -> int | None:
    """The unit's parent id; None for a root."""
    return session.execute(select(units.c.parent_id).where(units.c.id == unit_id)).scalar()
