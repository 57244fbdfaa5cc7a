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
