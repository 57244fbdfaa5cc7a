"""The org tree: units by code, ancestry, and moving a subtree (one UPDATE that rewrites the path prefix).

The path encoding itself (segments, subtree ranges) is `duban.engine.store.paths`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session

from duban.engine.errors import NotFound
from duban.engine.store import counts
from duban.engine.store.models import Task, Unit

# The path encoding lives with the table; the tree's callers keep reading it from here.
from duban.engine.store.paths import SEGMENT as SEGMENT
from duban.engine.store.paths import ancestor_ids as ancestor_ids
from duban.engine.store.paths import in_subtree as in_subtree
from duban.engine.store.paths import segment as segment
from duban.engine.store.paths import strictly_below as strictly_below

units = Unit.__table__


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
