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
from duban.engine.errors import Forbidden, NotFound
from duban.engine.language.loader import LoadedDefinition
from duban.engine.language.model import Definition
from duban.engine.org import tree
from duban.engine.store import audit
from duban.engine.store.models import DefinitionVersion, Unit


@dataclass(frozen=True)
class Stored:
    """What loading one file did."""

    def_id: str
    version: int
    status: str  # "new", "updated" or "unchanged"

    def to_json(self) -> dict[str, object]:
        return {"id": self.def_id, "version": self.version, "status": self.status}


def _owner_for(session: Session, actor: Actor, owner_code: str | None) -> Unit | None:
    """Who owns what this actor publishes: --owner (within its subtree), its own unit, or the root."""
    if owner_code is not None:
        unit = tree.get_unit(session, owner_code)
        permissions.require_sees(actor, unit.path, unit.code)
        return unit
    if actor.unit_id is not None:
        return session.get(Unit, actor.unit_id)
    roots = session.scalars(select(Unit).where(Unit.parent_id.is_(None)).limit(2)).all()
    # The operator publishes for the one top-level union; with none (or several) the
    # definitions stay the root's (NULL), publishable by the operator and top-level admins.
    return roots[0] if len(roots) == 1 else None


def store_definitions(
    session: Session,
    now: datetime,
    actor: Actor,
    loaded: list[LoadedDefinition],
    *,
    owner_code: str | None = None,
) -> list[Stored]:
    """Store each definition whose meaning changed as its next version, all or nothing.

    A new definition is owned by `owner_code`'s unit, else the actor's (the root's for the
    operator); a new version keeps its definition's owner and may be published only by an
    admin of that owner or of a unit above it (permissions.can_publish_definition).
    """
    permissions.can_upload_definitions(actor)
    owner = _owner_for(session, actor, owner_code)
    out = []
    refused = []
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
        newest = session.scalars(
            select(DefinitionVersion)
            .where(DefinitionVersion.def_id == d.id)
            .order_by(DefinitionVersion.version.desc())
            .limit(1)
        ).first()
        latest = newest.version if newest is not None else None
        owner_id = owner.id if owner is not None else None
        if newest is not None:
            held_by = session.get(Unit, newest.owner_unit_id) if newest.owner_unit_id is not None else None
            try:
                permissions.can_publish_definition(actor, d.id, held_by.path if held_by else None)
            except Forbidden as exc:
                refused.append(exc.message)
                continue
            # The operator may hand a definition to another union with --owner; anyone else keeps its owner.
            if not (actor.is_operator and owner_code is not None):
                owner_id = newest.owner_unit_id
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
            owner_unit_id=owner_id,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            now,
            actor.name,
            "definition.loaded",
            payload={"id": d.id, "version": version, "file": item.path, "owner_unit_id": owner_id},
        )
        out.append(Stored(d.id, version, "new" if latest is None else "updated"))
    if refused:
        # Nothing is stored: the caller's transaction rolls back the versions written above.
        raise Forbidden("; ".join(refused))
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


def newest_titles(session: Session, def_ids: set[str]) -> dict[str, str]:
    """Each item's title, from its newest stored version."""
    if not def_ids:
        return {}
    v = DefinitionVersion.__table__
    newest = (
        select(v.c.def_id, func.max(v.c.version).label("n"))
        .where(v.c.def_id.in_(def_ids))
        .group_by(v.c.def_id)
        .subquery()
    )
    rows = session.execute(
        select(v.c.def_id, v.c.title).join(
            newest, (newest.c.def_id == v.c.def_id) & (newest.c.n == v.c.version)
        )
    )
    return {r.def_id: r.title for r in rows}
