"""Who is acting: an account with its unit and role, or the operator at the command line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.engine.errors import NotFound
from duban.engine.store.models import Account, Role, Unit


@dataclass(frozen=True)
class Actor:
    """The one on whose behalf a service runs."""

    name: str
    role: str
    unit_id: int | None = None
    unit_path: str = ""
    unit_code: str = ""
    account_id: int | None = None

    @property
    def is_operator(self) -> bool:
        """The operator runs the deployment and stands above the whole tree."""
        return self.account_id is None and self.role == "operator"


OPERATOR = Actor(name="operator", role="operator")
SYSTEM = Actor(name="system", role="system")


_accounts, _units = Account.__table__, Unit.__table__
# What an actor is read from: an account joined to its unit. Token checks (engine/sessions.py) join their
# token to the same, so both build the actor one way.
ACCOUNT_UNIT = _accounts.join(_units, _units.c.id == _accounts.c.unit_id)
ACTOR_COLUMNS = (
    _accounts.c.id.label("account_id"),
    _accounts.c.name,
    _accounts.c.role,
    _accounts.c.active,
    _units.c.id.label("unit_id"),
    _units.c.path,
    _units.c.code,
)


def actor_from(row: Any) -> Actor:
    """The actor of a row holding ACTOR_COLUMNS."""
    return Actor(
        name=row.name,
        role=Role(row.role),
        unit_id=row.unit_id,
        unit_path=row.path,
        unit_code=row.code,
        account_id=row.account_id,
    )


def actor_for(session: Session, account_name: str) -> Actor:
    """The actor of an active account, or NotFound."""
    row = session.execute(
        select(*ACTOR_COLUMNS).select_from(ACCOUNT_UNIT).where(_accounts.c.name == account_name)
    ).first()
    if row is None or not row.active:
        raise NotFound(f"account {account_name} not found")
    return actor_from(row)
