"""Writing the audit log: every state change appends its event in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from duban.engine.store.models import Audit

audit = Audit.__table__


def record(
    session: Session,
    at: datetime,
    actor: str,
    action: str,
    *,
    task_id: int | None = None,
    assignment_id: int | None = None,
    unit_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Append one event."""
    session.execute(
        insert(audit).values(
            at=at,
            actor=actor,
            action=action,
            task_id=task_id,
            assignment_id=assignment_id,
            unit_id=unit_id,
            payload=payload or {},
        )
    )
