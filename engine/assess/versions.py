"""Stored scoring schemes: a changed file is a new version, an unchanged one is not stored again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.assess.scheme import Scheme, digest_of
from duban.engine.errors import NotFound
from duban.engine.store import audit
from duban.engine.store.models import SchemeVersion

versions = SchemeVersion.__table__


def store_schemes(
    session: Session, now: datetime, actor: Actor, loaded: list[tuple[Scheme, str, str]]
) -> list[dict[str, Any]]:
    """Store each scheme whose meaning changed as its next version; all of them or, on an error, none."""
    permissions.can_load_schemes(actor)
    out = []
    for scheme, name, text in loaded:
        digest = digest_of(scheme)
        latest = session.execute(
            select(versions.c.version, versions.c.digest)
            .where(versions.c.scheme_id == scheme.id)
            .order_by(versions.c.version.desc())
            .limit(1)
        ).first()
        if latest is not None and latest.digest == digest:
            out.append({"id": scheme.id, "version": latest.version, "status": "unchanged"})
            continue
        version = (latest.version if latest else 0) + 1
        session.execute(
            versions.insert().values(
                scheme_id=scheme.id,
                version=version,
                digest=digest,
                title=scheme.title,
                year=scheme.year,
                body=scheme.model_dump(mode="json"),
                source_text=text,
                source_name=name,
                loaded_at=now,
            )
        )
        audit.record(
            session,
            now,
            actor.name,
            "scheme.loaded",
            payload={"scheme": scheme.id, "version": version, "digest": digest},
        )
        out.append({"id": scheme.id, "version": version, "status": "updated" if latest else "new"})
    return out


def latest_scheme(session: Session, scheme_id: str) -> tuple[int, int, Scheme]:
    """(version row id, version, scheme) of the newest version."""
    row = session.execute(
        select(versions.c.id, versions.c.version, versions.c.body)
        .where(versions.c.scheme_id == scheme_id)
        .order_by(versions.c.version.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(f"scoring scheme {scheme_id} not found")
    return row.id, row.version, Scheme.model_validate(row.body)


def list_schemes(session: Session) -> list[dict[str, Any]]:
    """The newest version of every scheme."""
    newest = (
        select(versions.c.scheme_id, func.max(versions.c.version).label("v"))
        .group_by(versions.c.scheme_id)
        .subquery()
    )
    rows = session.execute(
        select(versions.c.scheme_id, versions.c.version, versions.c.title, versions.c.year, versions.c.body)
        .join(newest, (versions.c.scheme_id == newest.c.scheme_id) & (versions.c.version == newest.c.v))
        .order_by(versions.c.year.desc(), versions.c.scheme_id)
    ).all()
    return [
        {
            "id": r.scheme_id,
            "version": r.version,
            "title": r.title,
            "title_en": r.body.get("title_en"),
            "year": r.year,
        }
        for r in rows
    ]


def schemes_scoring(session: Session, def_id: str, year: int) -> list[tuple[int, Scheme]]:
    """The newest version of each scheme of `year` that scores the item `def_id`."""
    out = []
    for entry in list_schemes(session):
        if entry["year"] != year:
            continue
        _, _, scheme = latest_scheme(session, entry["id"])
        if scheme.item(def_id) is not None:
            out.append((entry["version"], scheme))
    return out
