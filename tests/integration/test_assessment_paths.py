"""The ranking and the score card are two readings of one assessment: on a varied world they agree,
unit for unit, on every total and rank — both databases, open and closed."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from duban.bench.tree import province_csv
from duban.engine.access.actors import OPERATOR
from duban.engine.assess import assessment, scoring
from duban.engine.assess.scheme import parse_scheme
from duban.engine.assess.versions import latest_scheme, store_schemes
from duban.engine.language.loader import parse_definition
from duban.engine.org.units import import_units
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Assignment, Audit, ScoreAward, Task, TaskState, Unit
from duban.engine.work import fanout
from duban.engine.work.catalog import store_definitions

ITEM = """id: {id}
title: 考核事项{n}
applies_to: {{levels: [{levels}]}}
trigger: assigned
due: {{after: P{days}D}}
"""

# Points and deductions that are not round in binary, a quality range on two items, two bonus items.
SCHEME = """id: mixed
title: 混合考核细则
year: 2026
items:
  - {definition: item-a, points: 33.3, late: -1.5, missing: -7.25, rejected: -0.7, quality: {max: 7.5}}
  - {definition: item-b, points: 25, missing: -30, rejected: -2.25}
  - {definition: item-c, points: 41.7, late: -0.35, quality: {max: 12.2}}
bonus:
  - {id: honour, label: 获评先进, max: 3}
  - {id: model, label: 模范职工之家, max: 2.5}
"""

QUALITY = (0, 0.1, 1.3, 2.5, 3.35, 6.7, 7.5, 8.05, 12.2)
BONUS = (0.1, 0.25, 0.7, 1, 1.35, 2.5)


def _world(db: Engine, replay: Any, tmp_path: Path, seed: int) -> None:
    """A 150-unit province, three items fanned out to its townships and branches, and a year of
    submissions, send-backs, approvals, quality points and bonuses drawn at random."""
    rt, rng = replay.rt, random.Random(seed)
    tree = tmp_path / "tree.csv"
    province_csv(tree, 150)
    defs = [
        parse_definition(ITEM.format(id=f"item-{c}", n=c, levels=levels, days=days), f"{c}.yaml")
        for c, levels, days in (
            ("a", "grassroots", 30),
            ("b", "township, grassroots", 10),
            ("c", "grassroots", 60),
        )
    ]
    with write_session(db) as s:
        import_units(s, rt.now(), OPERATOR, tree)
        store_definitions(s, rt.now(), OPERATOR, defs)
        store_schemes(s, rt.now(), OPERATOR, [(parse_scheme(SCHEME, "mixed.yaml"), "mixed.yaml", SCHEME)])
        root = s.scalar(select(Unit.code).where(Unit.parent_id.is_(None)))
        for d in defs:
            fanout.assign_definition(s, rt, OPERATOR, d.definition.id, root)
    with write_session(db) as s:
        found = s.execute(
            select(Task.id, Task.unit_id, Task.due_at, Task.overdue_at, Assignment.def_id).join(
                Assignment, Assignment.id == Task.assignment_id
            )
        ).all()
        # Some units skip an item: no task, so the item does not count for them.
        for task_id, unit_id, due_at, overdue_at, def_id in found:
            fate = rng.random()
            state = (
                TaskState.done
                if fate < 0.5
                else TaskState.submitted
                if fate < 0.6
                else TaskState.cancelled
                if fate < 0.65
                else TaskState.waived
                if fate < 0.7
                else TaskState.open
            )
            # A few fall due in another year: they belong to another year's assessment.
            shift = timedelta(days=400) if rng.random() < 0.05 else timedelta(0)
            s.execute(
                Task.__table__.update()
                .where(Task.__table__.c.id == task_id)
                .values(
                    state=state.value,
                    due_at=due_at + shift,
                    overdue_at=overdue_at + shift,
                )
            )
            events = []
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
                events.append(("task.rejected", overdue_at + timedelta(days=rng.randint(-20, 20))))
            if state in (TaskState.done, TaskState.submitted) or rng.random() < 0.2:
                for _ in range(rng.choice((1, 1, 2))):
                    events.append(("task.submitted", overdue_at + timedelta(hours=rng.randint(-600, 300))))
            for action, at in events:
                s.add(Audit(at=at, actor="test", action=action, task_id=task_id, unit_id=unit_id, payload={}))
            if state == TaskState.done and def_id in ("item-a", "item-c") and rng.random() < 0.8:
                s.add(
                    ScoreAward(
                        scheme_id="mixed",
                        year=2026,
                        unit_id=unit_id,
                        kind="quality",
                        item=def_id,
                        task_id=task_id,
                        points=rng.choice(QUALITY),
                        awarded_by="test",
                        awarded_at=rt.now(),
                    )
                )
        # Bonuses, the odd one to a unit with no task at all (the county) and past the cap.
        units = s.scalars(select(Unit.id).where(Unit.parent_id.is_not(None)).order_by(Unit.id)).all()
        county = s.scalar(select(Unit.id).where(Unit.level == "county").order_by(Unit.id).limit(1))
        given = [
            (u, rng.choice(BONUS)) for u in rng.sample(units, 30) for _ in range(rng.choice((1, 1, 2, 4)))
        ]
        for unit_id, points in [(county, 1.35), (units[-1], 2.5), (units[-1], 2.5), (units[-1], 2.5), *given]:
            s.add(
                ScoreAward(
                    scheme_id="mixed",
                    year=2026,
                    unit_id=unit_id,
                    kind="bonus",
                    item=rng.choice(("honour", "model")),
                    points=points,
                    reason="测试",
                    awarded_by="test",
                    awarded_at=rt.now(),
                )
            )
    replay.at("2026-05-20T10:00")


def _same_totals(db: Engine, replay: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    with read_session(db) as s:
        root = s.scalars(select(Unit).where(Unit.parent_id.is_(None))).one()
        scheme = latest_scheme(s, "mixed")[2]
        fast = assessment.assess(s, replay.rt, OPERATOR, "mixed", root.code)
        cards = scoring.score(s, replay.rt, scheme, root)
        # Every unit of the upper levels and a sample of the branches, each card read on its own.
        codes = [r["code"] for level, rows in fast["levels"].items() for r in rows if level != "grassroots"]
        codes += random.Random(7).sample([r["code"] for r in fast["levels"]["grassroots"]], 20)
        one_by_one = {c: assessment.unit_card(s, replay.rt, OPERATOR, "mixed", root.code, c) for c in codes}
    totals = ("code", "name", "level", "parent", "score", "points", "bonus", "normalized", "rank")
    assert fast["levels"].keys() == cards["levels"].keys()
    for level, rows in fast["levels"].items():
        # Same units, same order, same totals and ranks, to the type (0 and 0.0 print apart): no card is
        # built for the ranking.
        assert json.dumps([{k: r[k] for k in totals} for r in cards["levels"][level]]) == json.dumps(rows)
        assert all("items" not in r for r in rows)
    by_code = {r["code"]: r for rows in cards["levels"].values() for r in rows}
    for code, card in one_by_one.items():
        assert json.dumps(card["card"]) == json.dumps(by_code[code]), code
        assert card["ranked"] == len(fast["levels"][card["card"]["level"]])
    return fast, by_code


def test_the_ranking_and_every_card_agree_on_a_varied_world(db: Engine, replay: Any, tmp_path: Path) -> None:
    _world(db, replay, tmp_path, seed=17)
    fast, cards = _same_totals(db, replay)
    # The world is as varied as meant: three levels ranked, ties, the floor, each deduction, bonuses capped.
    assert {"county", "township", "grassroots"} <= fast["levels"].keys()
    grassroots = [r["normalized"] for r in fast["levels"]["grassroots"]]
    assert len(set(grassroots)) < len(grassroots) and len(set(grassroots)) > 20
    items = [i for c in cards.values() for i in c["items"]]
    assert {d["why"] for i in items for d in i["deductions"]} == {"late", "missing", "rejected"}
    assert any(i["score"] == 0 and i["deductions"] for i in items)
    assert any(0 < i["quality"] < 12.2 and i["quality"] != round(i["quality"]) for i in items)
    assert any(c["bonus"] == 5.5 for c in cards.values())
    assert fast["levels"]["county"][0]["points"] == 0 and fast["levels"]["county"][0]["bonus"] > 0


def test_a_closed_year_keeps_the_same_ranking_and_cards(db: Engine, replay: Any, tmp_path: Path) -> None:
    _world(db, replay, tmp_path, seed=2026)
    live, cards = _same_totals(db, replay)
    with write_session(db) as s:
        root = s.scalar(select(Unit.code).where(Unit.parent_id.is_(None)))
        assessment.close_assessment(s, replay.rt, OPERATOR, "mixed", root)
    with read_session(db) as s:
        frozen = assessment.assess(s, replay.rt, OPERATOR, "mixed", root)
        some = next(iter(cards))
        card = assessment.unit_card(s, replay.rt, OPERATOR, "mixed", root, some)
    assert frozen["closed"] and frozen["levels"] == live["levels"]
    assert card["closed"] and card["card"] == cards[some]
