"""Who is acting: an account with its unit and role, or the operator at the command line."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.models import Account, Role, Unit


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


def actor_for(session: Session, account_name: str) -> Actor:
    """The actor of an active account, or NotFound."""
    row = session.execute(
        select(Account, Unit).join(Unit, Unit.id == Account.unit_id).where(Account.name == account_name)
    ).first()
    if row is None or not row[0].active:
        raise NotFound(f"account {account_name} not found")
    account, unit = row
    return Actor(
        name=account.name,
        role=Role(account.role),
        unit_id=unit.id,
        unit_path=unit.path,
        unit_code=unit.code,
        account_id=account.id,
    )
