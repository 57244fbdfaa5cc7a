"""The bench's world: a province-sized tree in a fresh database, a baseline copy of it, and the shared setup.

Every measure gets the same `World`: the engine and its runtime on a FixedClock, a bare driver
connection (`Raw`) to the same database, a second database with the identical schema and tree
for bare inserts, and the due set the sweep measures share (made once, on first use). The
bench reads the wall clock only through `clocked` (time.perf_counter, a duration, never a date).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, insert, inspect, select
from sqlalchemy.engine import make_url

from duban.bench.raw import Raw
from duban.bench.tree import PROVINCE, province_csv
from duban.engine.access.actors import OPERATOR
from duban.engine.errors import InvalidInput, Problem
from duban.engine.language.model import Definition
from duban.engine.org.units import import_units
from duban.engine.runtime import Runtime
from duban.engine.store.db import (
    is_sqlite,
    make_engine,
    normalize_url,
    read_session,
    sqlite_file,
    write_session,
)
from duban.engine.store.models import DefinitionVersion, Task, Unit
from duban.engine.store.schema import upgrade
from duban.engine.time.calendar import WorkCalendar
from duban.engine.time.clock import FixedClock
from duban.engine.work.fanout import assign_definition

T = TypeVar("T")
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)  # a Monday; every run replays the same days

FANOUT_DEF = {
    "id": "bench-fanout",
    "title": "基准：一次性任务",
    "title_en": "Bench: one-off task",
    "source": "bench",
    "applies_to": {"levels": ["grassroots"]},
    "trigger": "assigned",
    "due": {"after": "P90D"},
    "reminders": ["P30D", "P7D"],
    "escalation": [{"after": "P0D", "to": "parent"}, {"after": "P30D", "to": "grandparent"}],
}
# The same fan-out through every applies_to rule: any-of and none-of tags, a numeric attr
# comparison on the JSON attrs, and an ancestor's level through the materialized path.
FANOUT_RULES_DEF = {
    **FANOUT_DEF,
    "id": "bench-fanout-rules",
    "title": "基准：按规则分发",
    "title_en": "Bench: fan-out through applies_to rules",
    "applies_to": {
        "levels": ["grassroots"],
        "tags_any": ["enterprise", "institution"],
        "tags_none": ["non_public"],
        "where": {"members": {">=": 100}},
        "under": {"levels": ["county"]},
    },
}
# Due sooner than FANOUT_DEF, so on its first reminder's day only its tasks are due.
SWEEP_DEF = {
    "id": "bench-sweep",
    "title": "基准：催办",
    "title_en": "Bench: sweep",
    "source": "bench",
    "applies_to": {"levels": ["grassroots"]},
    "trigger": "assigned",
    "due": {"after": "P20D"},
    "reminders": ["P7D"],
    "escalation": [{"after": "P0D", "to": "parent"}],
}

Progress = Callable[[str, int, int], None]  # (what is running, steps done, steps in all)


def clocked(fn: Callable[[], T]) -> tuple[float, T]:
    """Run `fn`; its elapsed seconds (a monotonic duration, not the wall clock) and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def runtime_at(at: datetime) -> Runtime:
    """The bench's runtime with its clock standing at `at`."""
    return Runtime(clock=FixedClock(at), tz=TZ, calendar=WorkCalendar.load(None), data_dir=Path("data"))


@dataclass
class BenchOptions:
    """What to measure, where, and how big."""

    workdir: Path
    units: int = 215_000
    url: str | None = None  # None: a fresh SQLite file in `workdir`
    only: frozenset[str] | None = None
    repeat: int = 3  # best of `repeat` where a run is cheap
    heavy_repeat: int = 2  # best of this for the 100k-action sweep
    due_actions: int = 100_000
    outbox_rows: int = 20_000
    digest_size: int = 10
    http_requests: int = 3000  # per side and run of the HTTP figure
    http_workers: int = (
        0  # the HTTP figure runs at 1, 2 and this many server processes (0: the machine's cores)
    )
    # PostgreSQL: ANALYZE after the import and before the roll-up, VACUUM ANALYZE before the idle sweep
    # (autovacuum would, within a minute of such churn); --no-analyze measures a database nobody maintains.
    analyze: bool = True


@dataclass
class Steps:
    """Progress reporting: a label per step, out of a known number of steps."""

    total: int
    callback: Progress | None
    done: int = 0

    def __call__(self, label: str) -> None:
        if self.callback is not None:
            self.callback(label, self.done, max(self.total, self.done + 1))
        self.done += 1


@dataclass
class DueSet:
    """The tasks made due for the sweep measures: ids up to `hi` of one assignment, first reminder at `first`."""

    assignment_id: int
    hi: int
    count: int
    first: datetime
    rt: Runtime
    epoch: int = 0
    second: datetime | None = None


@dataclass
class World:
    """What every measure runs against; built by `build_world`, closed by `close`."""

    opts: BenchOptions
    step: Steps
    engine: Engine
    rt: Runtime
    kind: str
    url: str
    raw: Raw
    base: Raw | None = None
    base_cleanup: Callable[[], None] | None = None
    fanout_assignments: list[int] = field(default_factory=list)
    due_set: DueSet | None = None
    one_sweep_seconds: float | None = None  # a sweep of the due set, once one ran
    rollup_seconds: float | None = None  # the best roll-up, once one ran
    fanout_seconds: float | None = None  # the best province fan-out, once one ran

    @property
    def pg(self) -> bool:
        return self.kind == "postgresql"

    @property
    def maintained(self) -> bool:
        """Whether the bench stands in for autovacuum (PostgreSQL with --analyze)."""
        return self.pg and self.opts.analyze

    def assign(self, def_id: str, scope: str) -> tuple[int, int]:
        """Assign a bench definition through the engine; (assignment id, tasks created)."""
        with write_session(self.engine) as s:
            result = assign_definition(s, self.rt, OPERATOR, def_id, scope)
        return result.assignment_id, result.created

    def due(self) -> DueSet:
        """The due set, made on first use: a fan-out of SWEEP_DEF, its first `due_actions` tasks due."""
        if self.due_set is None:
            self.step("sweep setup: fan-out of the sweep definition")
            self.due_set = _make_due_set(self, self.opts.due_actions)
        return self.due_set

    def redue(self) -> datetime:
        """Make the due set due again (a new schedule epoch gives its notices new keys); when it is due."""
        due = self.due()
        due.epoch += 1
        raw = self.raw
        with raw.txn():
            raw.run(
                "UPDATE task SET action_cursor = 0, escalation_level = 0, next_action_at = ?, schedule_epoch = ? "
                "WHERE assignment_id = ? AND id <= ?",
                (raw.time(due.first), due.epoch, due.assignment_id, due.hi),
            )
        return due.rt.now()

    def close(self) -> None:
        self.raw.close()
        if self.base is not None:
            self.base.close()
        self.engine.dispose()
        if self.base_cleanup is not None:
            self.base_cleanup()


def _make_due_set(world: World, wanted: int) -> DueSet:
    assignment_id, created = world.assign("bench-sweep", PROVINCE)
    count = min(wanted, created)
    tasks = Task.__table__
    with read_session(world.engine) as s:
        ids = list(
            s.scalars(
                select(tasks.c.id)
                .where(tasks.c.assignment_id == assignment_id)
                .order_by(tasks.c.id)
                .limit(count)
            )
        )
        first = s.scalar(select(tasks.c.next_action_at).where(tasks.c.id == ids[0]))
    hi = ids[-1]
    raw = world.raw
    with raw.txn():
        raw.run(
            "UPDATE task SET next_action_at = NULL WHERE assignment_id = ? AND id > ?", (assignment_id, hi)
        )
    return DueSet(assignment_id, hi, count, first, runtime_at(first + timedelta(minutes=1)))


# --- building it ----------------------------------------------------------------------------

SETUP_STEPS = 3  # the tree CSV, the import, the baseline copy


def _holds_units(engine: Engine) -> bool:
    with read_session(engine) as s:
        return bool(s.scalar(select(func.count()).select_from(Unit.__table__)))


def _refuse_a_database_in_use(engine: Engine) -> None:
    # Asked before any migration runs: a refused database is left exactly as it was.
    tables = set(inspect(engine).get_table_names())
    if tables and ("unit" not in tables or _holds_units(engine)):
        engine.dispose()
        raise InvalidInput(
            [
                Problem(
                    "bench",
                    "--db",
                    "the bench needs an empty database (no tables, or duban's "
                    "schema with no units); it fills it with a tree",
                )
            ]
        )


def _store_definition(engine: Engine, body: dict[str, Any]) -> None:
    defn = Definition.model_validate(body)
    with write_session(engine) as s:
        s.execute(
            insert(DefinitionVersion.__table__).values(
                def_id=defn.id,
                version=1,
                digest=defn.id,
                title=defn.title,
                body=defn.model_dump(mode="json"),
                source_text="",
                source_name="bench",
                loaded_at=T0,
            )
        )


def open_world(opts: BenchOptions, step: Steps) -> World:
    """An empty database migrated to duban's schema (a database in use is refused untouched)."""
    opts.workdir.mkdir(parents=True, exist_ok=True)
    url = opts.url or f"sqlite:///{opts.workdir / 'bench.db'}"
    engine = make_engine(url)
    _refuse_a_database_in_use(engine)
    upgrade(engine)
    kind = "sqlite" if is_sqlite(engine) else "postgresql"
    return World(opts, step, engine, runtime_at(T0), kind, url, Raw.open(url))


def fill_world(world: World, doc: dict[str, Any]) -> None:
    """The tree imported through the engine, the bench definitions stored, the baseline copy made."""
    opts, step = world.opts, world.step
    step("writing the tree CSV")
    csv_path = opts.workdir / "units.csv"
    doc["tree"] = province_csv(csv_path, opts.units)

    def load() -> Any:
        with write_session(world.engine) as s:
            return import_units(s, T0, OPERATOR, csv_path)

    step(f"importing {opts.units} units")
    seconds, imported = clocked(load)
    doc["import"] = {
        "seconds": round(seconds, 3),
        "created": imported.created,
        "units_per_second": round(imported.created / seconds),
    }
    doc["analyzed_after_import"] = world.maintained
    if world.maintained:
        world.raw.run("ANALYZE")
    _store_definition(world.engine, FANOUT_DEF)
    _store_definition(world.engine, SWEEP_DEF)
    _store_definition(world.engine, FANOUT_RULES_DEF)
    step("baseline database (same schema, same tree)")
    _snapshot_baseline(world)


def _snapshot_baseline(world: World) -> None:
    """A second database with the identical schema (and the same tree), for the bare inserts."""
    if world.kind == "sqlite":
        main = sqlite_file(world.url)
        assert main is not None
        target = world.opts.workdir / "baseline.db"
        src, dst = sqlite3.connect(main), sqlite3.connect(target)
        src.backup(dst)
        src.close()
        dst.close()
        world.base = Raw.open(f"sqlite:///{target}")
        return
    parsed = make_url(normalize_url(world.url))
    name = f"{parsed.database}_baseline"
    world.engine.dispose()  # CREATE DATABASE … TEMPLATE needs the source without sessions
    world.raw.close()
    admin = make_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"')
    world.raw = Raw.open(world.url)
    world.base = Raw.open(parsed.set(database=name).render_as_string(hide_password=False))

    def cleanup() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    world.base_cleanup = cleanup
