"""Importing the org tree: validate a whole file, then upsert it set-based.

A file is refused whole — every problem named by row and column — on an unknown
parent, a cycle, a duplicate code, an unknown level, a child not below its parent's
level, or bad JSON in `attrs`/`contacts`. Nothing is written then.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.errors import ImportRefused, Problem
from duban.engine.language.model import LEVEL_ORDER
from duban.engine.org import tree
from duban.engine.org.contacts import parse_contacts
from duban.engine.org.sheets import Row, read_rows
from duban.engine.store import audit
from duban.engine.store.db import is_sqlite
from duban.engine.store.models import Unit

units = Unit.__table__
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
TAG = re.compile(r"[a-z0-9_]+")
CHUNK = 2000

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class UnitRow:
    line: int
    code: str
    name: str
    parent_code: str
    level: str
    tags: list[str]
    attrs: dict[str, Any]
    contacts: dict[str, Any] | None


@dataclass
class ImportResult:
    """What an import did."""

    created: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    codes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "moved": self.moved,
            "unchanged": self.unchanged,
        }


def tags_text(tags: list[str]) -> str:
    """Tags as stored: ";a;b;" so that one LIKE finds a tag on both databases."""
    return ";" + ";".join(sorted(set(tags))) + ";" if tags else ""


def import_units(
    session: Session, now: datetime, actor: Actor, path: Path, progress: Progress | None = None
) -> ImportResult:
    """Validate the whole file, then create, update and move units (upsert by code)."""
    rows = read_rows(path, ["code", "name", "parent_code", "level"], ["tags", "attrs", "contacts"])
    parsed, problems = _parse(str(path), rows)
    existing = _existing(session, [r.code for r in parsed] + [r.parent_code for r in parsed if r.parent_code])
    problems += _check_tree(str(path), parsed, existing)
    if not actor.is_operator:
        problems += _check_scope(str(path), parsed, existing, actor)
    if problems:
        raise ImportRefused(problems)
    return _apply(session, now, actor, str(path), _topological(parsed), existing, progress)


def _parse(name: str, rows: list[Row]) -> tuple[list[UnitRow], list[Problem]]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    out = []
    for row in rows:
        where = f"{name}:{row.line}"
        c = row.cells
        code, parent = c.get("code", ""), c.get("parent_code", "")
        before = len(problems)
        if not CODE.fullmatch(code):
            problems.append(
                Problem(where, "code", f"{code!r} is not a code (letters, digits, . _ -; at most 64)")
            )
        elif code in seen:
            problems.append(Problem(where, "code", f"duplicate code {code} (first on line {seen[code]})"))
        else:
            seen[code] = row.line
        if not c.get("name"):
            problems.append(Problem(where, "name", "a unit needs a name"))
        level = c.get("level", "")
        if level not in LEVEL_ORDER:
            problems.append(
                Problem(where, "level", f"unknown level {level!r}; one of {', '.join(LEVEL_ORDER)}")
            )
        if parent and parent == code:
            problems.append(Problem(where, "parent_code", "a unit cannot be its own parent"))
        tags = [t.strip() for t in c.get("tags", "").split(";") if t.strip()]
        for tag in tags:
            if not TAG.fullmatch(tag):
                problems.append(
                    Problem(where, "tags", f"tag {tag!r} must be lower-case letters, digits or _")
                )
        attrs = _json_object(c.get("attrs", ""), where, "attrs", problems)
        contacts = None
        if c.get("contacts"):
            raw = _json_object(c["contacts"], where, "contacts", problems)
            try:
                contacts = parse_contacts(raw)
            except ValueError as exc:
                problems.append(Problem(where, "contacts", str(exc)))
        if len(problems) == before:
            out.append(UnitRow(row.line, code, c["name"], parent, level, tags, attrs, contacts))
    return out, problems


def _json_object(raw: str, where: str, column: str, problems: list[Problem]) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        problems.append(Problem(where, column, f"bad JSON ({exc.msg} at character {exc.pos + 1})"))
        return {}
    if not isinstance(value, dict):
        problems.append(Problem(where, column, 'must be a JSON object, like {"members": 120}'))
        return {}
    return value


@dataclass
class Known:
    id: int
    parent_code: str
    level: str
    path: str
    depth: int
    name: str
    tags: str
    attrs: dict[str, Any]
    contacts: dict[str, Any]


def _existing(session: Session, codes: list[str]) -> dict[str, Known]:
    parent = units.alias("parent")
    out: dict[str, Known] = {}
    unique = sorted(set(codes))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        stmt = (
            select(units, parent.c.code.label("parent_code"))
            .select_from(units.outerjoin(parent, parent.c.id == units.c.parent_id))
            .where(units.c.code.in_(chunk))
        )
        for r in session.execute(stmt).mappings():
            out[r["code"]] = Known(
                r["id"],
                r["parent_code"] or "",
                r["level"],
                r["path"],
                r["depth"],
                r["name"],
                r["tags"],
                r["attrs"],
                r["contacts"],
            )
    return out


def _check_tree(name: str, rows: list[UnitRow], existing: dict[str, Known]) -> list[Problem]:
    problems = []
    in_file = {r.code: r for r in rows}
    level_of = {code: k.level for code, k in existing.items()} | {r.code: r.level for r in rows}
    # The parent each unit will have after the import: the file wins over the database.
    parent_of = {code: k.parent_code for code, k in existing.items()} | {r.code: r.parent_code for r in rows}
    for r in rows:
        where = f"{name}:{r.line}"
        if r.parent_code and r.parent_code not in in_file and r.parent_code not in existing:
            problems.append(Problem(where, "parent_code", f"unknown parent {r.parent_code}"))
            continue
        if r.parent_code:
            parent_level = level_of[r.parent_code]
            if LEVEL_ORDER.index(r.level) <= LEVEL_ORDER.index(parent_level):
                problems.append(
                    Problem(
                        where, "level", f"{r.level} cannot sit under {r.parent_code}, a {parent_level} unit"
                    )
                )
    reported: set[str] = set()
    for r in rows:
        chain, code = [r.code], r.parent_code
        while code and code not in reported:
            if code in chain:
                cycle = [*chain[chain.index(code) :], code]
                problems.append(Problem(f"{name}:{r.line}", "parent_code", "cycle: " + " → ".join(cycle)))
                reported.update(cycle)
                break
            if code not in parent_of:
                break
            chain.append(code)
            code = parent_of[code]
    if existing and any(r.code in existing for r in rows):
        problems += _subtree_cycles(name, rows, existing)
    return problems


def _check_scope(name: str, rows: list[UnitRow], existing: dict[str, Known], actor: Actor) -> list[Problem]:
    """An account reshapes only its own subtree; new top-level unions are the operator's."""
    problems = []
    for r in rows:
        where = f"{name}:{r.line}"
        known = existing.get(r.code)
        if known is not None and not permissions.sees(actor, known.path):
            problems.append(Problem(where, "code", f"{r.code} is taken by a unit outside your subtree"))
        parent = existing.get(r.parent_code)
        if parent is not None and not permissions.sees(actor, parent.path):
            problems.append(Problem(where, "parent_code", f"unknown parent {r.parent_code}"))
        if not r.parent_code and not (known is not None and not known.parent_code):
            problems.append(Problem(where, "parent_code", "only the operator adds a top-level union"))
    return problems


def _subtree_cycles(name: str, rows: list[UnitRow], existing: dict[str, Known]) -> list[Problem]:
    """A move under one's own (stored) descendant is a cycle too."""
    problems = []
    for r in rows:
        known, parent = existing.get(r.code), existing.get(r.parent_code)
        if known and parent and r.parent_code != known.parent_code and parent.path.startswith(known.path):
            problems.append(
                Problem(f"{name}:{r.line}", "parent_code", f"cycle: {r.parent_code} lies under {r.code}")
            )
    return problems


def _topological(rows: list[UnitRow]) -> list[UnitRow]:
    """Parents before children, so every parent's path is known when a child needs it (cycles are refused earlier)."""
    in_file = {r.code: r for r in rows}
    depth: dict[str, int] = {}
    for r in rows:
        chain, code = [], r.code
        # Walk up through rows of this file whose depth is not known yet.
        while code in in_file and code not in depth:
            chain.append(code)
            code = in_file[code].parent_code
        d = depth.get(code, -1)
        for c in reversed(chain):
            d += 1
            depth[c] = d
    return sorted(rows, key=lambda r: depth[r.code])


def _apply(
    session: Session,
    now: datetime,
    actor: Actor,
    name: str,
    rows: list[UnitRow],
    existing: dict[str, Known],
    progress: Progress | None,
) -> ImportResult:
    result = ImportResult()
    path_of = {code: (k.id, k.path, k.depth) for code, k in existing.items()}
    new_rows = [r for r in rows if r.code not in existing]
    ids = _allocate_ids(session, len(new_rows))
    new_ids = {r.code: i for r, i in zip(new_rows, ids, strict=False)}
    changes, inserts = [], []
    for r in rows:
        known = existing.get(r.code)
        parent = path_of.get(r.parent_code) if r.parent_code else None
        if known is None:
            uid = new_ids[r.code]
            p = (parent[1] if parent else "") + tree.segment(uid)
            d = parent[2] + 1 if parent else 0
            path_of[r.code] = (uid, p, d)
            inserts.append(
                {
                    "id": uid,
                    "code": r.code,
                    "name": r.name,
                    "parent_id": parent[0] if parent else None,
                    "level": r.level,
                    "path": p,
                    "depth": d,
                    "tags": tags_text(r.tags),
                    "attrs": r.attrs,
                    "contacts": r.contacts or {},
                    "changed_at": now,
                }
            )
            result.created += 1
            continue
        if r.parent_code != known.parent_code:
            old = session.scalar(select(units.c.path).where(units.c.id == known.id))
            new_path = (parent[1] if parent else "") + tree.segment(known.id)
            new_depth = parent[2] + 1 if parent else 0
            tree.move_subtree(session, old, new_path, new_depth - known.depth, now)
            session.execute(
                update(units).where(units.c.id == known.id).values(parent_id=parent[0] if parent else None)
            )
            audit.record(
                session,
                now,
                actor.name,
                "unit.moved",
                unit_id=known.id,
                payload={"code": r.code, "from": known.parent_code, "to": r.parent_code},
            )
            path_of[r.code] = (known.id, new_path, new_depth)
            result.moved += 1
        values = {"name": r.name, "level": r.level, "tags": tags_text(r.tags), "attrs": r.attrs}
        if r.contacts is not None:
            values["contacts"] = r.contacts
        old_values = {"name": known.name, "level": known.level, "tags": known.tags, "attrs": known.attrs}
        if r.contacts is not None:
            old_values["contacts"] = known.contacts
        if values != old_values:
            changes.append(
                {
                    "b_id": known.id,
                    **values,
                    "contacts": values.get("contacts", known.contacts),
                    "changed_at": now,
                }
            )
            result.updated += 1
        elif r.parent_code == known.parent_code:
            result.unchanged += 1
    done = len(rows) - len(inserts)
    for start in range(0, len(inserts), CHUNK):
        session.execute(insert(units), inserts[start : start + CHUNK])
        if progress:
            progress(done + min(start + CHUNK, len(inserts)), len(rows))
    if changes:
        session.execute(
            update(units)
            .where(units.c.id == bindparam("b_id"))
            .values(
                name=bindparam("name"),
                level=bindparam("level"),
                tags=bindparam("tags"),
                attrs=bindparam("attrs"),
                contacts=bindparam("contacts"),
                changed_at=bindparam("changed_at"),
            ),
            changes,
        )
    result.codes = [r.code for r in rows]
    audit.record(
        session, now, actor.name, "units.imported", payload={"file": Path(name).name, **result.to_json()}
    )
    return result


def _allocate_ids(session: Session, count: int) -> list[int]:
    """Ids for new units, known before insert so that paths can be written with the rows."""
    if count == 0:
        return []
    if is_sqlite(session):
        # The write transaction holds SQLite's write lock, so nobody else allocates meanwhile.
        start = (session.scalar(select(func.max(units.c.id))) or 0) + 1
        return list(range(start, start + count))
    rows = session.execute(text("SELECT nextval('unit_id_seq') FROM generate_series(1, :n)"), {"n": count})
    return [r[0] for r in rows]
