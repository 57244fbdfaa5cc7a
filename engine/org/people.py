"""Importing people: cadres (with appointed_on) and members (with birthday)."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from duban.engine.access.actors import Actor
from duban.engine.errors import ImportRefused, Problem
from duban.engine.org.sheets import read_rows
from duban.engine.store import audit
from duban.engine.store.models import Person, Unit

people = Person.__table__
units = Unit.__table__
KINDS = ("cadre", "member")
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
CHUNK = 2000


def import_people(session: Session, now: datetime, actor: Actor, path: Path) -> dict[str, int]:
    """Validate the whole file, then upsert people by id."""
    name = str(path)
    rows = read_rows(path, ["id", "name", "unit_code", "kind"], ["appointed_on", "birthday"])
    codes = sorted({r.cells["unit_code"] for r in rows})
    unit_ids: dict[str, int] = {}
    for start in range(0, len(codes), CHUNK):
        chunk = codes[start : start + CHUNK]
        unit_ids.update(
            dict(session.execute(select(units.c.code, units.c.id).where(units.c.code.in_(chunk))).all())
        )
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    parsed = []
    for row in rows:
        where, c = f"{name}:{row.line}", row.cells
        before = len(problems)
        if not ID.fullmatch(c["id"]):
            problems.append(Problem(where, "id", f"{c['id']!r} is not an id"))
        elif c["id"] in seen:
            problems.append(Problem(where, "id", f"duplicate id {c['id']} (first on line {seen[c['id']]})"))
        else:
            seen[c["id"]] = row.line
        if not c["name"]:
            problems.append(Problem(where, "name", "a person needs a name"))
        if c["unit_code"] not in unit_ids:
            problems.append(Problem(where, "unit_code", f"unknown unit {c['unit_code']!r}"))
        if c["kind"] not in KINDS:
            problems.append(Problem(where, "kind", f"unknown kind {c['kind']!r}; one of {', '.join(KINDS)}"))
        dates = {}
        for column in ("appointed_on", "birthday"):
            dates[column] = _date(c.get(column, ""), where, column, problems)
        if c["kind"] == "cadre" and not c.get("appointed_on"):
            problems.append(Problem(where, "appointed_on", "a cadre needs the date of appointment"))
        if len(problems) == before:
            parsed.append(
                {
                    "ext_id": c["id"],
                    "name": c["name"],
                    "unit_id": unit_ids[c["unit_code"]],
                    "kind": c["kind"],
                    **dates,
                }
            )
    if problems:
        raise ImportRefused(problems)
    known = set()
    ids = [p["ext_id"] for p in parsed]
    for start in range(0, len(ids), CHUNK):
        known.update(
            session.scalars(select(people.c.ext_id).where(people.c.ext_id.in_(ids[start : start + CHUNK])))
        )
    new = [p for p in parsed if p["ext_id"] not in known]
    old = [
        {"b_ext_id": p["ext_id"], **{k: v for k, v in p.items() if k != "ext_id"}}
        for p in parsed
        if p["ext_id"] in known
    ]
    for start in range(0, len(new), CHUNK):
        session.execute(insert(people), new[start : start + CHUNK])
    if old:
        session.execute(
            update(people)
            .where(people.c.ext_id == bindparam("b_ext_id"))
            .values(
                name=bindparam("name"),
                unit_id=bindparam("unit_id"),
                kind=bindparam("kind"),
                appointed_on=bindparam("appointed_on"),
                birthday=bindparam("birthday"),
            ),
            old,
        )
    result = {"created": len(new), "updated": len(old)}
    audit.record(session, now, actor.name, "people.imported", payload={"file": path.name, **result})
    return result


def _date(raw: str, where: str, column: str, problems: list[Problem]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems.append(Problem(where, column, f"{raw!r} is not a date (YYYY-MM-DD)"))
        return None
