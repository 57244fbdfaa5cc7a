"""Processes rolling over the same period at once: each task made and audited once, the period opened once."""

from __future__ import annotations

import multiprocessing
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, insert, select

from duban.engine.access.actors import OPERATOR
from duban.engine.language.loader import load_paths
from duban.engine.org import tree
from duban.engine.org.units import import_units
from duban.engine.runtime import Runtime
from duban.engine.store.db import make_engine, read_session, write_session
from duban.engine.store.models import Audit, Task, Unit
from duban.engine.time.calendar import WorkCalendar
from duban.engine.time.clock import FixedClock
from duban.engine.work import fanout
from duban.engine.work.catalog import store_definitions

FIXTURES = Path(__file__).parent.parent / "fixtures"
TZ = ZoneInfo("Asia/Shanghai")
EXTRA = 3000  # grassroots units: enough for the two roll-overs to overlap


def _roll_over(url: str, start: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue) -> None:  # type: ignore[name-defined]
    engine = make_engine(url)
    rt = Runtime(
        clock=FixedClock(datetime(2027, 1, 5, 10, 0, tzinfo=TZ)), tz=TZ, calendar=WorkCalendar.load(None)
    )
    start.wait()
    try:
        with write_session(engine) as session:
            out.put(fanout.roll_over(session, rt))
    except Exception as exc:  # reported to the test, which fails on it
        out.put(repr(exc))
    finally:
        engine.dispose()


def test_two_processes_open_a_period_once(db: Engine, db_url: str, replay) -> None:  # type: ignore[no-untyped-def]
    with write_session(db) as s:
        now = replay.rt.now()
        import_units(s, now, OPERATOR, FIXTURES / "tree.csv")
        store_definitions(s, now, OPERATOR, load_paths([FIXTURES / "defs"]))
        t01 = s.execute(select(Unit).where(Unit.code == "T01")).scalar_one()
        first = (s.scalar(select(func.max(Unit.id))) or 0) + 1
        s.execute(
            insert(Unit.__table__),
            [
                {
                    "id": first + i,
                    "code": f"X{i:05d}",
                    "name": f"企业工会{i}",
                    "parent_id": t01.id,
                    "level": "grassroots",
                    "path": t01.path + tree.segment(first + i),
                    "depth": t01.depth + 1,
                    "tags": "",
                    "attrs": {},
                    "contacts": {},
                    "changed_at": now,
                }
                for i in range(EXTRA)
            ],
        )
        assignment = fanout.assign_definition(s, replay.rt, OPERATOR, "test-congress", "C01").assignment_id
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_roll_over, args=(db_url, start, out)) for _ in range(2)]
    for w in workers:
        w.start()
    made = [out.get(timeout=300) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    assert all(isinstance(n, int) for n in made), made
    with read_session(db) as s:
        tasks_2027 = s.scalar(
            select(func.count()).where(Task.assignment_id == assignment, Task.period == "2027")
        )
        created = s.scalar(
            select(func.count()).where(
                Audit.action == "task.created",
                Audit.assignment_id == assignment,
                Audit.payload["period"].as_string() == "2027",
            )
        )
        opened = s.scalar(
            select(func.count()).where(Audit.action == "period.opened", Audit.assignment_id == assignment)
        )
    assert tasks_2027 == 4 + EXTRA
    assert sorted(made) == [0, 4 + EXTRA]
    assert created == tasks_2027
    assert opened == 1
