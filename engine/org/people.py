"""Importing people: cadres (with appointed_on) and members (with birthday).

Like units, an import changes only what the file gives: a column it lacks or a blank
cell keeps the stored value, `-` clears it. The file is read and checked before the
write session opens (`read_people`); only the checks against stored data run inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.errors import ImportRefused, Problem
from duban.engine.org.rows import PersonRow, parse_rows
from duban.engine.org.sheets import Row, read_rows
from duban.engine.store import audit
from duban.engine.store.models import Person, Unit

people = Person.__table__
units = Unit.__table__
CHUNK = 2000
REQUIRED = ["id", "name", "unit_code", "kind"]
OPTIONAL = ["appointed_on", "birthday"]
FIELDS = ("name", "unit_id", "kind", "appointed_on", "birthday")


@dataclass(frozen=True)
class PeopleFile:
    """A people file read and checked row by row, before any database is touched."""

    name: str
    rows: list[PersonRow]


def read_people(path: Path) -> PeopleFile:
    """Read and check a people file (CSV or XLSX); ImportRefused names every problem."""
    name = str(path)
    rows = read_rows(path, REQUIRED, OPTIONAL)
    parsed, problems = parse_rows(PersonRow, name, rows, REQUIRED)
    problems += _duplicates(name, rows)
    if problems:
        raise ImportRefused(problems)
    return PeopleFile(name, parsed)


def import_people(
    session: Session, now: datetime, actor: Actor, source: Path | PeopleFile, *, dry_run: bool = False
) -> dict[str, Any]:
    """Check the file against the tree, then upsert people by id (a dry run writes nothing)."""
    file = source if isinstance(source, PeopleFile) else read_people(source)
    unit_ids = _visible_units(session, actor, sorted({r.unit_code for r in file.rows}))
    known = _known(session, [r.id for r in file.rows])
    problems: list[Problem] = []
    planned = []
    for row in file.rows:
        values, row_problems = _resolve(file.name, row, known.get(row.id), unit_ids)
        problems += row_problems
        planned.append((row, values))
    if problems:
        raise ImportRefused(problems)
    code_of = {uid: code for code, uid in unit_ids.items()}
    new, changed, changes = [], [], []
    for row, values in planned:
        old = known.get(row.id)
        if old is None:
            new.append({"ext_id": row.id, **values})
            changes.append({"id": row.id, "created": True, "fields": []})
            continue
        fields = [f for f in FIELDS if values[f] != old[f]]
        if fields:
            changed.append({"b_ext_id": row.id, **values})
            change: dict[str, Any] = {"id": row.id, "created": False, "fields": fields}
            if "unit_id" in fields:
                change["moved"] = {"from": code_of.get(old["unit_id"], old["unit_code"]), "to": row.unit_code}
            changes.append(change)
    result: dict[str, Any] = {
        "created": len(new),
        "updated": len(changed),
        "unchanged": len(planned) - len(new) - len(changed),
    }
    if dry_run:
        return result | {"dry_run": True, "changes": changes}
    for start in range(0, len(new), CHUNK):
        session.execute(insert(people), new[start : start + CHUNK])
    if changed:
        session.execute(
            update(people)
            .where(people.c.ext_id == bindparam("b_ext_id"))
            .values(**{f: bindparam(f) for f in FIELDS}),
            changed,
        )
    audit.record(
        session, now, actor.name, "people.imported", payload={"file": Path(file.name).name, **result}
    )
    return result


def _duplicates(name: str, rows: list[Row]) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for row in rows:
        ext_id = row.cells.get("id", "")
        if ext_id and ext_id in seen:
            problems.append(
                Problem(f"{name}:{row.line}", "id", f"duplicate id {ext_id} (first on line {seen[ext_id]})")
            )
        seen.setdefault(ext_id, row.line)
    return problems


def _visible_units(session: Session, actor: Actor, codes: list[str]) -> dict[str, int]:
    """Code to id of the units the actor sees; any other code reads as unknown."""
    out: dict[str, int] = {}
    for start in range(0, len(codes), CHUNK):
        chunk = codes[start : start + CHUNK]
        for code, uid, path in session.execute(
            select(units.c.code, units.c.id, units.c.path).where(units.c.code.in_(chunk))
        ):
            if actor.is_operator or permissions.sees(actor, path):
                out[code] = uid
    return out


def _known(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for start in range(0, len(ids), CHUNK):
        stmt = (
            select(people, units.c.code.label("unit_code"))
            .join(units, units.c.id == people.c.unit_id)
            .where(people.c.ext_id.in_(ids[start : start + CHUNK]))
        )
        out.update({r["ext_id"]: dict(r) for r in session.execute(stmt).mappings()})
    return out


def _resolve(
    name: str, row: PersonRow, old: dict[str, Any] | None, unit_ids: dict[str, int]
) -> tuple[dict[str, Any], list[Problem]]:
    where = f"{name}:{row.line}"
    problems = []
    if row.unit_code not in unit_ids:
        problems.append(Problem(where, "unit_code", f"unknown unit {row.unit_code!r}"))
    dates = {
        column: getattr(row, column) if row.given(column) or old is None else old[column]
        for column in ("appointed_on", "birthday")
    }
    if row.kind == "cadre" and dates["appointed_on"] is None and not row.given("appointed_on"):
        problems.append(Problem(where, "appointed_on", "a cadre needs the date of appointment"))
    return {"name": row.name, "unit_id": unit_ids.get(row.unit_code), "kind": row.kind, **dates}, problems
