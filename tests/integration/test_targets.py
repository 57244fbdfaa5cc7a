"""Numeric targets: own and children's progress kept apart, approval before counting, corrections."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from duban.engine.access.accounts import add_account
from duban.engine.access.actors import OPERATOR, actor_for
from duban.engine.errors import InvalidInput
from duban.engine.language.loader import load_paths
from duban.engine.org.units import import_units
from duban.engine.overview.reports import rollup
from duban.engine.overview.tasks import show_task
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Account, Audit, Task, Unit
from duban.engine.work import fanout, lifecycle
from duban.engine.work.catalog import store_definitions
from duban.engine.work.targets import split_target

TREE = """code,name,parent_code,level,tags,attrs
C1,市总工会,,municipal,,
K1,县总工会,C1,county,,
T1,甲镇工会,K1,township,,
T2,乙镇工会,K1,township,,
T3,丙镇工会,K1,township,,
"""
ORGANISE = """id: organise-approved
title: 非公企业建会
source: "测试"
title_en: Organise
applies_to: {levels: [county, township]}
trigger: assigned
due: {after: P9M}
completion:
  target: {measure: new_unions, unit_label: 家%s}
approval: [parent]
"""


def _world(db: Engine, replay, tmp_path: Path, extra: str = "") -> dict[str, int]:  # type: ignore[no-untyped-def]
    (tmp_path / "tree.csv").write_text(TREE, encoding="utf-8")
    defs = tmp_path / "defs"
    defs.mkdir(exist_ok=True)
    (defs / "organise.yaml").write_text(ORGANISE % extra, encoding="utf-8")
    with write_session(db) as s:
        now = replay.rt.now()
        import_units(s, now, OPERATOR, tmp_path / "tree.csv")
        store_definitions(s, now, OPERATOR, load_paths([defs]))
        first = add_account(s, now, OPERATOR, "c1-admin", "C1", "admin", "password123")
        units = dict(s.execute(select(Unit.code, Unit.id)).all())
        # One real hash is enough; the other accounts share it to keep the tests fast.
        s.execute(
            insert(Account.__table__),
            [
                {
                    "name": f"{code.lower()}-admin",
                    "unit_id": units[code],
                    "role": "admin",
                    "password_hash": first.password_hash,
                    "active": True,
                    "created_at": now,
                }
                for code in ("K1", "T1", "T2", "T3")
            ],
        )
        a = fanout.assign_definition(
            s, replay.rt, actor_for(s, "c1-admin"), "organise-approved", "C1", targets={"K1": 10}
        )
        ids = {
            code: task_id
            for code, task_id in s.execute(
                select(Unit.code, Task.id)
                .join(Task, Task.unit_id == Unit.id)
                .where(Task.assignment_id == a.assignment_id)
            )
        }
        split_target(
            s, replay.rt, actor_for(s, "k1-admin"), a.assignment_id, "K1", {"T1": 4, "T2": 4, "T3": 3}
        )
    return ids


def _act(db: Engine, replay, name: str, move: str, task_id: int, **kw):  # type: ignore[no-untyped-def]
    with write_session(db) as s:
        fn = getattr(lifecycle, f"{move}_task")
        return fn(s, replay.rt, actor_for(s, name), task_id, **kw).state


def _task(db: Engine, replay, task_id: int) -> dict:  # type: ignore[type-arg, no-untyped-def]
    with read_session(db) as s:
        return show_task(s, replay.rt.tz, OPERATOR, task_id)


def test_a_split_target_counts_approved_progress_once(db: Engine, replay, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = _world(db, replay, tmp_path)
    assert _act(db, replay, "t1-admin", "submit", ids["T1"], progress=4) == "submitted"
    assert _act(db, replay, "t2-admin", "submit", ids["T2"], progress=4) == "submitted"
    with pytest.raises(InvalidInput, match="whole numbers"):
        _act(db, replay, "t3-admin", "submit", ids["T3"], progress=2.5)
    assert _act(db, replay, "t3-admin", "submit", ids["T3"], progress=3) == "submitted"
    # unapproved progress never counts for the county
    county = _task(db, replay, ids["K1"])
    assert (county["state"], county["progress"], county["progress_children"]) == ("open", 0, 0)
    assert _act(db, replay, "k1-admin", "approve", ids["T1"]) == "done"
    assert _act(db, replay, "k1-admin", "approve", ids["T2"]) == "done"
    assert _act(db, replay, "k1-admin", "reject", ids["T3"], reason="名单不实") == "open"
    county = _task(db, replay, ids["K1"])
    assert (county["state"], county["progress"], county["progress_own"]) == ("open", 8, 0)
    # a correction: down by one, audited, then a replacing report
    assert _act(db, replay, "t3-admin", "submit", ids["T3"], progress=-1) == "open"
    with pytest.raises(InvalidInput, match="below 0"):
        _act(db, replay, "t3-admin", "submit", ids["T3"], progress=-5)
    assert _act(db, replay, "t3-admin", "submit", ids["T3"], progress_total=3) == "submitted"
    t3 = _task(db, replay, ids["T3"])
    corrections = [e["payload"]["correction"] for e in t3["audit"] if "correction" in e["payload"]]
    assert corrections == [{"from": 3, "to": 2}, {"from": 2, "to": 3}]
    assert _task(db, replay, ids["K1"])["progress"] == 8
    assert _act(db, replay, "k1-admin", "approve", ids["T3"]) == "done"
    county = _task(db, replay, ids["K1"])
    # 4 + 4 + 3 approved reach the county's 10: it goes to its own approver (the city)
    assert (county["state"], county["progress"], county["progress_children"]) == ("submitted", 11, 11)
    with read_session(db) as s:
        report = rollup(s, replay.rt.now(), OPERATOR, "C1")
        county_report = rollup(s, replay.rt.now(), OPERATOR, "K1")
    k1 = report["children"][0]
    assert (k1["target"], k1["progress"]) == (10, 11)
    assert (report["total"]["target"], report["total"]["progress"]) == (10, 11)
    assert (county_report["total"]["target"], county_report["total"]["progress"]) == (10, 11)
    assert [(r["code"], r["target"], r["progress"]) for r in county_report["children"]] == [
        ("T1", 4, 4),
        ("T2", 4, 4),
        ("T3", 3, 3),
    ]


def test_counts_children_refuses_a_parents_own_report(db: Engine, replay, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = _world(db, replay, tmp_path, ", counts: children")
    with pytest.raises(InvalidInput, match="units below"):
        _act(db, replay, "k1-admin", "submit", ids["K1"], progress=10)
    assert _act(db, replay, "t1-admin", "submit", ids["T1"], progress=4) == "submitted"


def test_counts_own_ignores_the_children(db: Engine, replay, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = _world(db, replay, tmp_path, ", counts: own")
    _act(db, replay, "t1-admin", "submit", ids["T1"], progress=4)
    _act(db, replay, "k1-admin", "approve", ids["T1"])
    assert _task(db, replay, ids["K1"])["progress"] == 0
    assert _act(db, replay, "k1-admin", "submit", ids["K1"], progress=10) == "submitted"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.5, 0])
def test_progress_that_cannot_count_is_refused(db: Engine, replay, tmp_path: Path, value: float) -> None:  # type: ignore[no-untyped-def]
    ids = _world(db, replay, tmp_path)
    with pytest.raises(InvalidInput, match="progress"):
        _act(db, replay, "t1-admin", "submit", ids["T1"], progress=value)
    with read_session(db) as s:
        assert s.get(Task, ids["T1"]).progress_own == 0
        assert s.scalars(select(Audit).where(Audit.action == "task.progressed")).first() is None


def test_a_fractional_target_is_refused_for_a_whole_number_measure(
    db: Engine, replay, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _world(db, replay, tmp_path)
    with write_session(db) as s, pytest.raises(InvalidInput, match="whole numbers"):
        fanout.assign_definition(
            s, replay.rt, actor_for(s, "c1-admin"), "organise-approved", "C1", targets={"K1": 2.5}
        )
