"""K01's spring of scored work, shared by the assessment's engine tests and its web pages' tests.

Two items of the branches below 莞城社区工会联合会 (T01) under K01, scored by `test-scheme`:

- G01 (华达电子有限公司工会) hands in 送温暖 on time and gets quality 8, hands in its report, and
  is given a 3-point bonus: 58 + 40 of 100, + 3 = 折合 101;
- G02 (莞城第一小学工会) is sent back once, hands 送温暖 in again after its deadline and gets
  quality 6 (50 + 6 − 5 − 2 = 49), and never hands in its report (0 − 20 floors at 0): 49.

The units (tests/fixtures/tree.csv), the accounts `k01-admin`, `t01-admin`, `g01-staff` and
`g02-staff`, the two definitions and the scheme are the caller's to store: the engine tests load
them from files, the web tests from text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from duban.engine.access.actors import actor_for
from duban.engine.assess import assessment
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Assignment, Task, Unit
from duban.engine.work import fanout, lifecycle

WARMTH = """id: test-warmth
title: 送温暖慰问
title_en: Send warmth
source: "测试 送温暖"
applies_to: {levels: [grassroots]}
trigger: assigned
due: {after: P30D}
completion:
  form:
    households: {type: integer, label: 慰问户数, min: 0}
    funds: {type: number, label: 慰问资金（元）, min: 0}
approval: [parent]
measures:
  households: {label: 慰问户数, sum: households, unit: 户}
  funds: {label: 慰问资金, sum: funds, unit: 元}
  per_household: {label: 户均资金, avg: funds}
  done_rate: {label: 完成率, rate: [done, tasks], unit: "%"}
"""

REPORT = """id: test-report
title: 按期报送工作总结
title_en: Work report
source: "测试 总结"
applies_to: {levels: [grassroots]}
trigger: assigned
due: {after: P10D}
"""

SCHEME = """id: test-scheme
title: 2026年度基层工会工作考核细则
year: 2026
items:
  - {definition: test-warmth, points: 60, late: -5, missing: -10, rejected: -2, quality: {max: 10}}
  - {definition: test-report, points: 40, missing: -20}
bonus:
  - {id: model-home, label: 获评模范职工之家, label_en: Named a model workers' home, max: 5}
title_en: 2026 assessment rules for grassroots unions
"""


def task_ids(db: Engine, def_id: str) -> dict[str, int]:
    """Unit code → the id of its task of the item."""
    with read_session(db) as s:
        rows = s.execute(
            select(Unit.code, Task.id)
            .join(Unit, Unit.id == Task.unit_id)
            .join(Assignment, Assignment.id == Task.assignment_id)
            .where(Assignment.def_id == def_id)
        ).all()
    return {code: task for code, task in rows}


def spring(db: Engine, replay: Any) -> dict[str, dict[str, int]]:
    """K01 assigns both items, then the spring as above; the clock is left at 2026-04-10 10:00.
    Returns each item's task ids by unit code (`warmth`, `report`)."""
    rt = replay.rt
    with write_session(db) as s:
        k01 = actor_for(s, "k01-admin")
        fanout.assign_definition(s, rt, k01, "test-warmth", "K01")
        fanout.assign_definition(s, rt, k01, "test-report", "K01")
    warmth, report = task_ids(db, "test-warmth"), task_ids(db, "test-report")

    def act(at: str, name: str, fn: Any, *args: Any, **kw: Any) -> None:
        replay.at(at)
        with write_session(db) as s:
            fn(s, rt, actor_for(s, name), *args, **kw)

    def approve(at: str, task: int, points: float) -> None:
        replay.at(at)
        with write_session(db) as s:
            t01 = actor_for(s, "t01-admin")
            lifecycle.approve_task(s, rt, t01, task)
            assessment.award_quality(s, rt, t01, task, points)

    submit = lifecycle.submit_task
    act("2026-03-05T10:00", "g01-staff", submit, warmth["G01"], form={"households": 10, "funds": 1000.5})
    approve("2026-03-06T10:00", warmth["G01"], 8)
    act("2026-03-06T11:00", "g01-staff", submit, report["G01"])
    act("2026-03-10T10:00", "g02-staff", submit, warmth["G02"], form={"households": 5, "funds": 200})
    act("2026-03-11T10:00", "t01-admin", lifecycle.reject_task, warmth["G02"], "资金凭证缺失")
    # Handed in again after its deadline (2026-04-01): late, and it was sent back once.
    act("2026-04-05T10:00", "g02-staff", submit, warmth["G02"], form={"households": 5, "funds": 200})
    approve("2026-04-06T10:00", warmth["G02"], 6)
    act(
        "2026-04-07T10:00",
        "k01-admin",
        assessment.award_bonus,
        "test-scheme",
        "K01",
        "G01",
        "model-home",
        3,
        "获评市级模范职工之家",
    )
    replay.at("2026-04-10T10:00")
    return {"warmth": warmth, "report": report}
