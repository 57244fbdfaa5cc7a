"""The stored definitions: versions in, versions out.

Loading is all or nothing: the caller validates every file first (engine.language.loader),
then `store_definitions` writes a new version for each changed one in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.errors import NotFound
from duban.engine.language.loader import LoadedDefinition
from duban.engine.language.model import Definition
from duban.engine.store import audit
from duban.engine.store.models import DefinitionVersion


@dataclass(frozen=True)
class Stored:
    """What loading one file did."""

    def_id: str
    version: int
    status: str  # "new", "updated" or "unchanged"

    def to_json(self) -> dict[str, object]:
        return {"id": self.def_id, "version": self.version, "status": self.status}


def store_definitions(
    session: Session, now: datetime, actor: Actor, loaded: list[LoadedDefinition]
) -> list[Stored]:
    """Store each definition whose meaning changed as its next version."""
    permissions.can_upload_definitions(actor)
    out = []
    for item in loaded:
        d = item.definition
        same = session.scalars(
            select(DefinitionVersion).where(
                DefinitionVersion.def_id == d.id, DefinitionVersion.digest == item.digest
            )
        ).first()
        if same is not None:
            out.append(Stored(d.id, same.version, "unchanged"))
            continue
        latest = session.scalar(
            select(func.max(DefinitionVersion.version)).where(DefinitionVersion.def_id == d.id)
        )
        version = (latest or 0) + 1
        row = DefinitionVersion(
            def_id=d.id,
            version=version,
            digest=item.digest,
            title=d.title,
            body=d.model_dump(mode="json"),
            source_text=item.text,
            source_name=item.path,
            loaded_at=now,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            now,
            actor.name,
            "definition.loaded",
            payload={"id": d.id, "version": version, "file": item.path},
        )
        out.append(Stored(d.id, version, "new" if latest is None else "updated"))
    return out


def latest_version(session: Session, def_id: str) -> DefinitionVersion:
    """The newest stored version of a definition, or NotFound."""
    row = session.scalars(
        select(DefinitionVersion)
        .where(DefinitionVersion.def_id == def_id)
        .order_by(DefinitionVersion.version.desc())
    ).first()
    if row is None:
        raise NotFound(f"definition {def_id} not found; load it with `duban definitions load`")
    return row


def definition_of(row: DefinitionVersion) -> Definition:
    """The language model of a stored version."""
    return Definition.model_validate(row.body)


def list_definitions(session: Session) -> list[DefinitionVersion]:
    """The newest version of every definition, by id."""
    newest = (
        select(DefinitionVersion.def_id, func.max(DefinitionVersion.version).label("v"))
        .group_by(DefinitionVersion.def_id)
        .subquery()
    )
    stmt = (
        select(DefinitionVersion)
        .join(
            newest, (newest.c.def_id == DefinitionVersion.def_id) & (newest.c.v == DefinitionVersion.version)
        )
        .order_by(DefinitionVersion.def_id)
    )
    return list(session.scalars(stmt))
