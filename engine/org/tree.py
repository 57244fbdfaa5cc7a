"""The org tree: materialized paths, subtree ranges and ancestry.

A unit's path is its ancestors' id segments and its own, root first, each a
fixed-width base-36 number. Every subtree is then the index range
[path, path + "~"), which both databases answer with one range scan, and moving a
subtree is one UPDATE that rewrites the prefix.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, literal, select, update
from sqlalchemy.orm import Session

from duban.engine.errors import NotFound
from duban.engine.store import counts
from duban.engine.store.models import Task, Unit
from duban.engine.store.types import SEGMENT

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
units = Unit.__table__


def segment(unit_id: int) -> str:
    """The fixed-width base-36 path segment of one unit id."""
    if unit_id < 0 or unit_id >= 36**SEGMENT:
        raise ValueError(f"unit id {unit_id} does not fit a path segment")
    out = []
    for _ in range(SEGMENT):
        unit_id, rem = divmod(unit_id, 36)
        out.append(_DIGITS[rem])
    return "".join(reversed(out))


def ancestor_ids(path: str) -> list[int]:
    """The ids on a path, root first, the unit itself last."""
    return [int(path[i : i + SEGMENT], 36) for i in range(0, len(path), SEGMENT)]


def in_subtree(path: str, column: ColumnElement[str] | None = None) -> ColumnElement[bool]:
    """SQL condition: the unit (by its path column) lies in the subtree rooted at `path`."""
    col = units.c.path if column is None else column
    return and_(col >= path, col < path + "~")


def strictly_below(path: str) -> ColumnElement[bool]:
    """SQL condition: the unit lies in the subtree of `path`, not counting its root."""
    return and_(units.c.path > path, units.c.path < path + "~")


def get_unit(session: Session, code: str) -> Unit:
    """The unit with this code, or NotFound."""
    unit = session.scalars(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        raise NotFound(f"unit {code} not found")
    return unit


def ancestors(session: Session, unit: Unit) -> list[Unit]:
    """The unit's ancestors, root first (not the unit itself)."""
    ids = ancestor_ids(unit.path)[:-1]
    if not ids:
        return []
    found = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(ids)))}
    return [found[i] for i in ids]


def is_within(path: str, root_path: str) -> bool:
    """Whether the unit at `path` lies in the subtree rooted at `root_path`."""
    return path.startswith(root_path)


def move_subtree(session: Session, old_path: str, new_path: str, depth_delta: int, now: datetime) -> int:
    """Re-path a subtree in SQL (its units count as changed now); returns how many units moved.

    The subtree's tasks leave the counts of the units above them under the old paths and join them
    under the new ones.
    """
    rest = func.substr(units.c.path, len(old_path) + 1)
    moved_tasks = Task.__table__.c.unit_id.in_(select(units.c.id).where(in_subtree(new_path)))
    counts.take(session, Task.__table__.c.unit_id.in_(select(units.c.id).where(in_subtree(old_path))))
    result = session.execute(
        update(units)
        .where(in_subtree(old_path))
        .values(path=literal(new_path).concat(rest), depth=units.c.depth + depth_delta, changed_at=now)
    )
    counts.put(session, moved_tasks)
    counts.drop_empty(session)
    return result.rowcount or 0
