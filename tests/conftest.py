"""Shared fixtures: a fresh migrated database per test, on SQLite and on PostgreSQL.

Every engine test that takes `db` runs once per database: SQLite in a temp dir, and
PostgreSQL when DUBAN_TEST_POSTGRES_URL is set (CI sets it). Each test gets its own
database, cloned from a template migrated once per session.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, make_url

from duban.engine.runtime import Runtime
from duban.engine.store.db import make_engine
from duban.engine.store.schema import upgrade
from duban.engine.time.calendar import WorkCalendar
from duban.engine.time.clock import FixedClock

PG_URL = os.environ.get("DUBAN_TEST_POSTGRES_URL")
TZ = ZoneInfo("Asia/Shanghai")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("backend", ["sqlite"] if only_sqlite else BACKENDS, scope="session")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    assert PG_URL
    name = f"duban_tpl_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = make_engine(_pg_db(name))
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _pg_db(name: str) -> str:
    assert PG_URL
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it, not even the schema (to restore into)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"duban_e_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield _pg_db(name)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh database at the newest schema."""
    if backend == "sqlite":
        path = tmp_path / "duban.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"duban_t_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _pg_db(name)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@dataclass
class Replay:
    """A clock the test moves, and the runtime built on it."""

    clock: FixedClock
    rt: Runtime

    def at(self, iso: str) -> datetime:
        instant = datetime.fromisoformat(iso)
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=TZ)
        self.clock.set(instant)
        return instant


@pytest.fixture
def replay(tmp_path: Path) -> Replay:
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=TZ))
    rt = Runtime(clock=clock, tz=TZ, calendar=WorkCalendar.load(None), data_dir=tmp_path / "data")
    return Replay(clock, rt)
