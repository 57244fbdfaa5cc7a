"""进度总览: the roll-up report dressed for a leader — lights, ranking, where it sits in the tree.

Everything here is read from the counts (engine/overview/reports.py `rollup`), plus the
unit's ancestors for the breadcrumb and which children have children of their own (a
leaf's figures lead to its task list, not to another dashboard).

The light (红黄绿灯) of a unit is its on-time rate (按时完成率: of the tasks whose
timeliness is settled — done, or unfinished past their deadline — those done before it)
against two thresholds: green at or above `green`, yellow at or above `yellow`, red below;
a unit with nothing settled yet has no light ("none"), rather than a red one for work not
yet due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.errors import InvalidInput, Problem
from duban.engine.org import tree
from duban.engine.overview import reports
from duban.engine.store.models import Unit

units = Unit.__table__


@dataclass(frozen=True)
class Lights:
    """The on-time rates (percent) at which a unit's light turns green, and yellow."""

    green: float = 90.0
    yellow: float = 70.0

    def __post_init__(self) -> None:
        if not 0 <= self.yellow <= self.green <= 100:
            raise InvalidInput(
                [
                    Problem(
                        "settings",
                        "light",
                        "need 0 ≤ yellow ≤ green ≤ 100 (DUBAN_LIGHT_YELLOW, DUBAN_LIGHT_GREEN)",
                    )
                ]
            )

    def of(self, row: dict[str, Any]) -> str:
        """green, yellow, red, or none (nothing settled yet)."""
        pct = row.get("on_time_pct")
        if pct is None:
            return "none"
        if pct >= self.green:
            return "green"
        return "yellow" if pct >= self.yellow else "red"


def _rank_key(row: dict[str, Any]) -> tuple[Any, ...]:
    # Best first: on time, then done, then fewest overdue; units with nothing settled go last.
    on_time, done = row["on_time_pct"], row["done_pct"]
    return (on_time is None, -(on_time or 0), done is None, -(done or 0), row["overdue"], row["code"])


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows best first, each with its place (`rank`, 1-based; equal figures share a place)."""
    ordered = sorted(rows, key=_rank_key)
    out, place, previous = [], 0, None
    for i, row in enumerate(ordered, 1):
        key = _rank_key(row)[:-1]
        if key != previous:
            place, previous = i, key
        out.append({**row, "rank": place})
    return out


def _breadcrumb(session: Session, actor: Actor, unit: Unit) -> list[dict[str, str]]:
    """The unit's ancestors the actor may see, root first, then the unit."""
    visible = [u for u in tree.ancestors(session, unit) if permissions.sees(actor, u.path)]
    return [{"code": u.code, "name": u.name, "level": u.level} for u in [*visible, unit]]


def _parents(session: Session, parent_id: int) -> set[str]:
    """The codes of the unit's children that have children of their own."""
    child = units.alias("child")
    return set(
        session.scalars(
            select(units.c.code)
            .join(child, child.c.parent_id == units.c.id)
            .where(units.c.parent_id == parent_id)
            .group_by(units.c.code)
            .having(func.count() > 0)
        )
    )


def dashboard(
    session: Session,
    now: datetime,
    actor: Actor,
    code: str,
    lights: Lights,
    definition: str | None = None,
) -> dict[str, Any]:
    """The 进度总览 of a unit: the report (narrowed to one item if asked), lights, ranking, breadcrumb."""
    report = reports.rollup(session, now, actor, code, definition)
    # The item choice lists every item of the subtree, whichever one is shown.
    items = reports.rollup(session, now, actor, code)["definitions"] if definition else report["definitions"]
    unit = tree.get_unit(session, code)
    parents = _parents(session, unit.id) if report["children"] else set()
    lit = [
        {**row, "light": lights.of(row), "has_children": row["code"] in parents} for row in report["children"]
    ]
    return {
        **report,
        "children": lit,
        "ranking": rank(lit),
        "total_light": lights.of(report["total"]),
        "definitions": [{**d, "light": lights.of(d)} for d in report["definitions"]],
        "matrix": [
            {"code": m["code"], "cells": {d: {**c, "light": lights.of(c)} for d, c in m["cells"].items()}}
            for m in report["matrix"]
        ],
        "items": [{"definition_id": d["definition_id"], "title": d["title"]} for d in items],
        "breadcrumb": _breadcrumb(session, actor, unit),
        "lights": {"green": lights.green, "yellow": lights.yellow},
    }
