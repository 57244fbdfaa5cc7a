"""Importing the org tree: validate a whole file, then upsert it set-based.

A file is refused whole — every problem named by row and column — on an unknown
parent, a cycle, a duplicate code, an unknown level, a child not below its parent's
level, or bad JSON in `attrs`/`contacts`. Nothing is written then. An import changes
only what the file gives: a column it lacks or a blank cell keeps the stored value,
`-` clears it (a blank parent_code keeps the parent; `-` makes a top-level union).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.channels.targets import TargetRefused, check_target
from duban.engine.errors import ImportRefused, Problem
from duban.engine.language.model import LEVEL_ORDER
from duban.engine.org import tree
from duban.engine.org.rows import CODE, UnitRow, parse_rows
from duban.engine.org.sheets import Row, read_rows
from duban.engine.store import audit
from duban.engine.store.db import is_sqlite
from duban.engine.store.models import Unit

units = Unit.__table__
CHUNK = 2000
REQUIRED = ["code", "name", "parent_code", "level"]
OPTIONAL = ["tags", "attrs", "contacts"]
FIELDS = ("name", "level", "tags", "attrs", "contacts")

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class UnitFile:
    """A unit file read and checked row by row, before any database is touched."""

    name: str
    rows: list[Resolved]


@dataclass
class Resolved:
    """A row with what the file left blank taken from the stored unit."""

    line: int
    code: str
    name: str
    parent_code: str
    level: str
    tags: list[str]
    attrs: dict[str, Any]
    contacts: dict[str, Any]


@dataclass
class Change:
    """What an import does to one unit: create it, move it, change some fields."""

    code: str
    created: bool = False
    moved_from: str | None = None
    moved_to: str | None = None
    fields: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "created": self.created, "fields": self.fields}
        if self.moved_to is not None:
            out["moved"] = {"from": self.moved_from or None, "to": self.moved_to or None}
        return out


@dataclass
class ImportResult:
    """What an import did (or, on a dry run, would do)."""

    created: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    codes: list[str] = field(default_factory=list)
    dry_run: bool = False
    changes: list[Change] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "created": self.created,
            "updated": self.updated,
            "moved": self.moved,
            "unchanged": self.unchanged,
        }
        if self.dry_run:
            out["dry_run"] = True
            out["changes"] = [
                c.to_json() for c in self.changes if c.created or c.fields or c.moved_to is not None
            ]
        return out


def tags_text(tags: list[str]) -> str:
    """Tags as stored: ";a;b;" so that one LIKE finds a tag on both databases."""
    return ";" + ";".join(sorted(set(tags))) + ";" if tags else ""


def read_units(path: Path, webhook_hosts: Sequence[str] = ()) -> UnitFile:
    """Read and check a unit file (CSV or XLSX) without the database; ImportRefused names every problem.

    `webhook_hosts` (DUBAN_WEBHOOK_HOSTS) are the hosts the contacts' webhooks may name, when listed.
    """
    name = str(path)
    rows = read_rows(path, REQUIRED, OPTIONAL)
    parsed, problems = parse_rows(UnitRow, name, rows, ["code", "name", "level"])
    problems += _duplicates(name, rows)
    if webhook_hosts:
        problems += _unlisted_hosts(name, parsed, webhook_hosts)
    if problems:
        problems.sort(key=lambda p: int(p.where.rsplit(":", 1)[1]) if p.where != name else 0)
        raise ImportRefused(problems)
    return UnitFile(name, parsed)


def _unlisted_hosts(name: str, parsed: list[UnitRow], webhook_hosts: Sequence[str]) -> list[Problem]:
    problems = []
    for row in parsed:
        for hook in (row.contacts or {}).get("webhooks", []) if isinstance(row.contacts, dict) else []:
            try:
                check_target(hook["url"], webhook_hosts)
            except TargetRefused as exc:
                problems.append(Problem(f"{name}:{row.line}", "contacts", str(exc)))
    return problems


def import_units(
    session: Session,
    now: datetime,
    actor: Actor,
    source: Path | UnitFile,
    progress: Progress | None = None,
    *,
    dry_run: bool = False,
) -> ImportResult:
    """Check the file against the tree, then create, update and move units (upsert by code).

    Read the file with `read_units` before opening the write session: parsing a large
    file then holds no lock. A dry run checks everything and writes nothing.
    """
    permissions.can_import_units(actor)
    file = source if isinstance(source, UnitFile) else read_units(source)
    wanted = [r.code for r in file.rows] + [r.parent_code for r in file.rows if r.parent_code]
    existing = _existing(session, wanted)
    resolved = [_resolve(r, existing.get(r.code)) for r in file.rows]
    # A parent kept from the database (blank parent_code) must be known for the level checks.
    existing |= _existing(session, [r.parent_code for r in resolved if r.parent_code not in existing])
    problems = _check_tree(file.name, resolved, existing)
    if not actor.is_operator:
        problems += _check_scope(file.name, resolved, existing, actor)
    if problems:
        raise ImportRefused(problems)
    ordered = _topological(resolved)
    changes = [_change(r, existing.get(r.code)) for r in ordered]
    result = ImportResult(
        created=sum(c.created for c in changes),
        updated=sum(bool(c.fields) for c in changes),
        moved=sum(c.moved_to is not None for c in changes),
        unchanged=sum(not (c.created or c.fields or c.moved_to is not None) for c in changes),
        codes=[r.code for r in ordered],
        dry_run=dry_run,
        changes=changes,
    )
    if not dry_run:
        _apply(session, now, actor, file.name, ordered, existing, changes, progress)
        audit.record(
            session,
            now,
            actor.name,
            "units.imported",
            payload={"file": Path(file.name).name, **result.to_json()},
        )
    return result


def _duplicates(name: str, rows: list[Row]) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for row in rows:
        code = row.cells.get("code", "")
        if code in seen and CODE.fullmatch(code):
            problems.append(
                Problem(f"{name}:{row.line}", "code", f"duplicate code {code} (first on line {seen[code]})")
            )
        seen.setdefault(code, row.line)
    return problems


def _resolve(row: UnitRow, known: Known | None) -> Resolved:
    def pick(column: str, stored: Any, empty: Any) -> Any:
        if row.given(column):
            value = getattr(row, column)
            return empty if value is None else value
        return stored if known is not None else empty

    k = known
    return Resolved(
        row.line,
        row.code,
        row.name,
        pick("parent_code", k and k.parent_code, ""),
        row.level,
        pick("tags", k and [t for t in k.tags.split(";") if t], []),
        pick("attrs", k and k.attrs, {}),
        pick("contacts", k and k.contacts, {}),
    )


def _values(r: Resolved) -> dict[str, Any]:
    return {
        "name": r.name,
        "level": r.level,
        "tags": tags_text(r.tags),
        "attrs": r.attrs,
        "contacts": r.contacts,
    }


def _change(r: Resolved, known: Known | None) -> Change:
    if known is None:
        return Change(r.code, created=True)
    change = Change(r.code)
    if r.parent_code != known.parent_code:
        change.moved_from, change.moved_to = known.parent_code, r.parent_code
    old = {
        "name": known.name,
        "level": known.level,
        "tags": known.tags,
        "attrs": known.attrs,
        "contacts": known.contacts,
    }
    new = _values(r)
    change.fields = [f for f in FIELDS if new[f] != old[f]]
    return change


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


def _check_tree(name: str, rows: list[Resolved], existing: dict[str, Known]) -> list[Problem]:
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


def _check_scope(name: str, rows: list[Resolved], existing: dict[str, Known], actor: Actor) -> list[Problem]:
    """An account reshapes only its own subtree; new top-level unions are the operator's."""
    problems = []
    for r in rows:
        where = f"{name}:{r.line}"
        known = existing.get(r.code)
        if known is not None and not permissions.sees(actor, known.path):
            # Said like any other code that cannot be used, so a refusal does not tell that it exists.
            problems.append(Problem(where, "code", f"{r.code} cannot be used; choose another code"))
        parent = existing.get(r.parent_code)
        if parent is not None and not permissions.sees(actor, parent.path):
            problems.append(Problem(where, "parent_code", f"unknown parent {r.parent_code}"))
        if not r.parent_code and not (known is not None and not known.parent_code):
            problems.append(Problem(where, "parent_code", "only the operator adds a top-level union"))
    return problems


def _subtree_cycles(name: str, rows: list[Resolved], existing: dict[str, Known]) -> list[Problem]:
    """A move under one's own (stored) descendant is a cycle too."""
    problems = []
    for r in rows:
        known, parent = existing.get(r.code), existing.get(r.parent_code)
        if known and parent and r.parent_code != known.parent_code and parent.path.startswith(known.path):
            problems.append(
                Problem(f"{name}:{r.line}", "parent_code", f"cycle: {r.parent_code} lies under {r.code}")
            )
    return problems


def _topological(rows: list[Resolved]) -> list[Resolved]:
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
    rows: list[Resolved],
    existing: dict[str, Known],
    changes: list[Change],
    progress: Progress | None,
) -> None:
    path_of = {code: (k.id, k.path, k.depth) for code, k in existing.items()}
    new_rows = [r for r in rows if r.code not in existing]
    new_ids = dict(zip([r.code for r in new_rows], _allocate_ids(session, len(new_rows)), strict=True))
    updates, inserts = [], []
    for r, change in zip(rows, changes, strict=True):
        known = existing.get(r.code)
        parent = path_of.get(r.parent_code) if r.parent_code else None
        if known is None:
            uid = new_ids[r.code]
            p = (parent[1] if parent else "") + tree.segment(uid)
            d = parent[2] + 1 if parent else 0
            path_of[r.code] = (uid, p, d)
            inserts.append(
                {"id": uid, "code": r.code, "parent_id": parent[0] if parent else None, "path": p, "depth": d}
                | _values(r)
                | {"changed_at": now}
            )
            continue
        if change.moved_to is not None:
            path_of[r.code] = _move(session, now, actor, r, known, parent)
        if change.fields:
            updates.append({"b_id": known.id, **_values(r), "changed_at": now})
    done = len(rows) - len(inserts)
    for start in range(0, len(inserts), CHUNK):
        session.execute(insert(units), inserts[start : start + CHUNK])
        if progress:
            progress(done + min(start + CHUNK, len(inserts)), len(rows))
    if updates:
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
            updates,
        )


def _move(
    session: Session,
    now: datetime,
    actor: Actor,
    r: Resolved,
    known: Known,
    parent: tuple[int, str, int] | None,
) -> tuple[int, str, int]:
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
    return known.id, new_path, new_depth


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
