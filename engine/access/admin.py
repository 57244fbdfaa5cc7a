"""An operator's or an admin's hand on accounts: list them, disable (its tokens revoked), enable, reset a password.

Each rule is `permissions.can_manage_account`: the operator, or an admin whose subtree holds the
account's unit. Every change is audited in its own transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.engine.access import permissions, sessions
from duban.engine.access.accounts import NewPassword, hashed
from duban.engine.access.actors import Actor
from duban.engine.errors import NotFound
from duban.engine.store import audit, paths
from duban.engine.store.models import Account, Unit

_accounts, _units = Account.__table__, Unit.__table__


def list_accounts(session: Session, actor: Actor, under: str | None = None) -> list[dict[str, Any]]:
    """The accounts the actor may see (its subtree's), optionally only those under unit `under`, by name."""
    query = select(
        _accounts.c.name,
        _accounts.c.role,
        _accounts.c.active,
        _accounts.c.email,
        _accounts.c.created_at,
        _units.c.code.label("unit"),
        _units.c.name.label("unit_name"),
        _units.c.path,
    ).join(_units, _units.c.id == _accounts.c.unit_id)
    if under is not None:
        root = session.execute(select(_units.c.path).where(_units.c.code == under)).first()
        if root is None:
            raise NotFound(f"unit {under} not found")
        permissions.require_sees(actor, root.path, under)
        query = query.where(paths.in_subtree(root.path, _units.c.path))
    elif not actor.is_operator:
        query = query.where(paths.in_subtree(actor.unit_path, _units.c.path))
    return [
        {
            "name": r.name,
            "unit": r.unit,
            "unit_name": r.unit_name,
            "role": r.role,
            "active": r.active,
            "email": r.email,
            "created_at": r.created_at,
        }
        for r in session.execute(query.order_by(_accounts.c.name))
    ]


def _managed(session: Session, actor: Actor, name: str) -> tuple[Account, str]:
    row = session.execute(
        select(Account, _units.c.path)
        .join(_units, _units.c.id == Account.unit_id)
        .where(Account.name == name)
    ).first()
    if row is None or not permissions.sees(actor, row.path):
        raise NotFound(f"account {name} not found")
    permissions.can_manage_account(actor, row.path, name)
    return row[0], row.path


def set_active(session: Session, now: datetime, actor: Actor, name: str, active: bool) -> dict[str, Any]:
    """Disable (every live token revoked: signed out everywhere) or enable an account."""
    account, _ = _managed(session, actor, name)
    revoked = 0
    if account.active != active:
        account.active = active
        session.add(account)
        if not active:
            revoked = sessions.revoke_all(session, now, name)
        action = "account.enabled" if active else "account.disabled"
        audit.record(
            session,
            now,
            actor.name,
            action,
            unit_id=account.unit_id,
            payload={"account": name, "tokens": revoked},
        )
    return {"name": name, "active": active, "tokens_revoked": revoked}


def reset_password(
    session: Session, now: datetime, actor: Actor, name: str, password: str | NewPassword
) -> dict[str, Any]:
    """Set a new password for someone else's account (they forgot theirs); its live tokens are revoked."""
    account, _ = _managed(session, actor, name)
    account.password_hash = hashed(password)
    session.add(account)
    revoked = sessions.revoke_all(session, now, name)
    audit.record(
        session,
        now,
        actor.name,
        "account.password_reset",
        unit_id=account.unit_id,
        payload={"account": name, "tokens": revoked},
    )
    return {"name": name, "tokens_revoked": revoked}
