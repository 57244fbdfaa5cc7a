"""The unit table's materialized paths: the encoding every subtree query and every scope rule reads.

A unit's path is its ancestors' id segments and its own, root first, each a
fixed-width base-36 number. Every subtree is then the index range
[path, path + "~"), which both databases answer with one range scan.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_

from duban.engine.store.models import Unit
from duban.engine.store.types import SEGMENT

__all__ = ["SEGMENT", "ancestor_ids", "in_subtree", "segment", "strictly_below"]
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
