"""The reliability suite's world: a province-shaped tree with many due actions, cloned per run.

`DUBAN_LONG=1` selects the long form (more runs, more kills); without it every test runs its
bounded CI form. Each test compares what a disturbed sweep left with what an undisturbed sweep
of the same world leaves (`fingerprint`), so "0 lost, 0 duplicated" is checked row by row.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, make_url, select

from duban.bench.tree import province_csv
from duban.engine.access.actors import OPERATOR
from duban.engine.language.loader import parse_definition
from duban.engine.runtime import Runtime
from duban.engine.store.db import make_engine, write_session
from duban.engine.store.models import Audit, Notification, Outbox, Task
from duban.engine.store.schema import upgrade
from duban.engine.time.calendar import WorkCalendar
from duban.engine.time.clock import FixedClock
from duban.engine.work import catalog, fanout

LONG = os.environ.get("DUBAN_LONG") == "1"
PG_URL = os.environ.get("DUBAN_TEST_POSTGRES_URL")
TZ = ZoneInfo("Asia/Shanghai")
ASSIGNED = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
# Long after every reminder and escalation of the world's tasks, in a new month for the recurring one.
SWEEP_AT = datetime(2026, 6, 3, 10, 0, tzinfo=TZ)
UNITS = 3000 if LONG else 600

FOLLOWED = """\
id: rel-followed
title: 可靠性检查
title_en: Reliability check
source: "测试"
applies_to: {levels: [grassroots]}
trigger: assigned
due: {after: P10D}
reminders: [P7D, P3D, P1D]
escalation:
  - {after: P0D, to: parent}
  - {after: P7D, to: grandparent}
  - {after: P30D, to: grandparent}
"""
MONTHLY = """\
id: rel-monthly
title: 每月报送
title_en: Monthly report
source: "测试"
applies_to: {levels: [township]}
trigger: {every: month}
due: end_of_period
reminders: [P3D]
"""


def runs(ci: int, long: int) -> int:
    """How many times a test repeats in this mode."""
    return long if LONG else ci


def runtime_at(at: datetime, data_dir: Path) -> Runtime:
    return Runtime(clock=FixedClock(at), tz=TZ, calendar=WorkCalendar.load(None), data_dir=data_dir)


def _admin() -> Engine:
    assert PG_URL
    return make_engine(PG_URL, isolation_level="AUTOCOMMIT")


def _pg_db(name: str) -> str:
    assert PG_URL
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@dataclass
class World:
    """A built database to clone: a file (SQLite) or a template database (PostgreSQL)."""

    backend: str
    source: str
    tmp: Path

    def clone(self) -> str:
        """The URL of a fresh copy."""
        if self.backend == "sqlite":
            path = self.tmp / f"run-{uuid.uuid4().hex[:8]}.db"
            shutil.copy(self.source, path)
            return f"sqlite:///{path}"
        name = f"duban_rel_{uuid.uuid4().hex[:10]}"
        admin = _admin()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.source}"')
        admin.dispose()
        return _pg_db(name)


def build_world(backend: str, tmp: Path) -> Iterator[World]:
    """Build the world once: tree, two definitions, assigned at ASSIGNED (a month ago for the monthly one)."""
    if backend == "sqlite":
        path = tmp / "world.db"
        url, source = f"sqlite:///{path}", str(path)
    else:
        source = f"duban_relw_{uuid.uuid4().hex[:8]}"
        admin = _admin()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{source}"')
        admin.dispose()
        url = _pg_db(source)
    engine = make_engine(url)
    upgrade(engine)
    csv = tmp / f"tree-{backend}.csv"
    province_csv(csv, UNITS)
    rt = runtime_at(ASSIGNED, tmp / "data")
    from duban.engine.org.units import import_units

    with write_session(engine) as s:
        import_units(s, rt.now(), OPERATOR, csv)
        catalog.store_definitions(
            s, rt.now(), OPERATOR, [parse_definition(FOLLOWED, "f.yaml"), parse_definition(MONTHLY, "m.yaml")]
        )
    with write_session(engine) as s:
        fanout.assign_definition(s, rt, OPERATOR, "rel-followed", "GD")
        fanout.assign_definition(s, rt, OPERATOR, "rel-monthly", "GD")
    engine.dispose()
    yield World(backend, source, tmp)
    if backend != "sqlite":
        admin = _admin()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{source}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite"] + (["postgres"] if PG_URL else []))
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from build_world(request.param, tmp_path_factory.mktemp(f"rel-{request.param}"))


def fingerprint(engine: Engine) -> dict[str, Counter[Any]]:
    """Everything a sweep writes, as multisets: equal fingerprints mean nothing lost and nothing doubled.

    Tasks are named by what they are (assignment, unit, period, subject), not by id: a PostgreSQL
    transaction that was killed still used up the ids it drew, so a rerun numbers new tasks on.
    """
    with engine.connect() as conn:
        ident = {
            r.id: (r.assignment_id, r.unit_id, r.period, r.subject)
            for r in conn.execute(
                select(Task.id, Task.assignment_id, Task.unit_id, Task.period, Task.subject)
            )
        }
        audit = Counter(
            (
                r.action,
                ident.get(r.task_id),
                r.assignment_id,
                r.unit_id,
                json.dumps({k: v for k, v in (r.payload or {}).items() if k != "dedupe_key"}, sort_keys=True),
            )
            for r in conn.execute(
                select(Audit.action, Audit.task_id, Audit.assignment_id, Audit.unit_id, Audit.payload)
            )
        )
        notice_of = {
            r.id: (ident[r.task_id], r.kind, r.step)
            for r in conn.execute(
                select(Notification.id, Notification.task_id, Notification.kind, Notification.step)
            )
        }
        notices = Counter(notice_of.values())
        outbox = Counter(
            (notice_of[r.notification_id], r.channel, r.address)
            for r in conn.execute(select(Outbox.notification_id, Outbox.channel, Outbox.address))
        )
        tasks = Counter(
            tuple(r)
            for r in conn.execute(
                select(
                    Task.assignment_id, Task.unit_id, Task.period, Task.action_cursor, Task.escalation_level
                )
            )
        )
    return {"audit": audit, "notices": notices, "outbox": outbox, "tasks": tasks}


def consistent(engine: Engine) -> None:
    """Every reminder and escalation notice has the audit row of its task's change, and the reverse."""
    with engine.connect() as conn:
        heard = {
            (r.task_id, r.kind, r.step)
            for r in conn.execute(
                select(Notification.task_id, Notification.kind, Notification.step).where(
                    Notification.kind.in_(("reminder", "escalation"))
                )
            )
        }
        told = set()
        for r in conn.execute(
            select(Audit.action, Audit.task_id, Audit.payload).where(
                Audit.action.in_(("task.reminded", "task.escalated"))
            )
        ):
            if r.action == "task.reminded":
                told.add((r.task_id, "reminder", r.payload["step"]))
            elif r.payload.get("to_unit_id") is not None:
                told.add((r.task_id, "escalation", r.payload["level"]))
    assert heard == told, (len(heard - told), len(told - heard))


def sweep_command(url: str, at: datetime = SWEEP_AT) -> list[str]:
    return [sys.executable, "-m", "duban.cli.main", "--db", url, "--now", at.isoformat(), "sweep"]


def run_sweep_process(url: str, tmp: Path) -> float:
    """Run one full sweep in its own process; its wall time."""
    started = time.monotonic()
    done = subprocess.run(sweep_command(url), capture_output=True, text=True, env=_env(tmp), check=False)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "DUBAN_DATA_DIR": str(tmp / "data")}


def dispose_url(url: str) -> None:
    """Drop a cloned PostgreSQL database (a SQLite clone is a file in the test's temp dir)."""
    if url.startswith("postgresql"):
        name = make_url(url).database
        admin = _admin()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
