"""The benchmarks: each hot path timed against a bare baseline doing the same work, in the same run.

Every figure is a ratio `seconds / baseline_seconds` held to a bar (`ratio <= bar`),
so a noisy machine moves both sides alike. Engine paths run through the engine's own
functions; baselines use the database driver directly (sqlite3 / psycopg), no
SQLAlchemy. The clock is a FixedClock: the bench reads the wall clock only through
`clocked` (time.perf_counter, a duration, never a date).
"""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, insert, inspect, select
from sqlalchemy.engine import make_url

from duban.bench.tree import PROVINCE, province_csv
from duban.engine.access.actors import OPERATOR
from duban.engine.channels.noop import NoopTransport
from duban.engine.errors import InvalidInput, Problem
from duban.engine.followup.delivery import deliver_outbox
from duban.engine.followup.notices import digest_key_for
from duban.engine.followup.sweep import explain_batch, sweep_due
from duban.engine.language.model import Definition
from duban.engine.org.units import import_units
from duban.engine.overview.reports import rollup
from duban.engine.runtime import Runtime
from duban.engine.store.db import (
    is_sqlite,
    make_engine,
    normalize_url,
    read_session,
    sqlite_file,
    write_session,
)
from duban.engine.store.models import DefinitionVersion, Outbox, Task, Unit
from duban.engine.store.schema import upgrade
from duban.engine.time.calendar import WorkCalendar
from duban.engine.time.clock import FixedClock
from duban.engine.work.fanout import assign_definition

T = TypeVar("T")
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)  # a Monday; every run replays the same days
MEASURES = (
    "fanout",
    "fanout_memory",
    "sweep_idle",
    "sweep_due",
    "sweep_concurrent",
    "rollup",
    "rollup_cte",
    "delivery",
)

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


@dataclass(frozen=True)
class BenchHandle:
    """What an extra measurement gets: the filled database, its engine and the bench's runtime (FixedClock)."""

    url: str
    engine: Engine
    rt: Runtime
    workdir: Path
    repeat: int
    # For extras in `BenchOptions.extra_sweeping`: makes the sweep's due set due again (a new schedule
    # epoch) and returns the instant a sweep finds it due at.
    redue: Callable[[], datetime] | None = None

    def at(self, instant: datetime) -> Runtime:
        """The bench's runtime with its clock standing at `instant`."""
        return _runtime(instant)


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
    # PostgreSQL: ANALYZE after the import and before the roll-up, VACUUM ANALYZE before the idle sweep
    # (autovacuum would, within a minute of such churn); --no-analyze measures a database nobody maintains.
    analyze: bool = True
    # Measurements the engine cannot run itself (the HTTP one needs the API): name -> fn(handle) -> measurement.
    # They run last, on the same database, before it is removed.
    extra: dict[str, Callable[[BenchHandle], dict[str, Any]]] = field(default_factory=dict)
    extra_sweeping: frozenset[str] = (
        frozenset()
    )  # extras that sweep the due set (they get `BenchHandle.redue`)


# --- bare driver access ---------------------------------------------------------------------


class Raw:
    """A driver connection of its own (sqlite3 or psycopg, autocommit), for baselines and setup."""

    def __init__(self, kind: str, conn: Any) -> None:
        self.kind = kind
        self.conn = conn

    @classmethod
    def open(cls, url: str) -> Raw:
        parsed = make_url(normalize_url(url))
        if parsed.get_backend_name() == "sqlite":
            conn = sqlite3.connect(parsed.database, isolation_level=None, timeout=30, check_same_thread=False)
            for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "synchronous=NORMAL"):
                conn.execute(f"PRAGMA {pragma}")
            return cls("sqlite", conn)
        import psycopg

        conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        return cls("postgresql", psycopg.connect(conninfo, autocommit=True))

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.kind == "postgresql" else text

    def time(self, instant: datetime) -> Any:
        """An instant as the column stores it (SQLAlchemy's SQLite format: naive UTC text)."""
        if self.kind == "sqlite":
            return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return instant

    def json(self, value: Any) -> Any:
        if self.kind == "sqlite":
            return json.dumps(value)
        from psycopg.types.json import Json

        return Json(value)

    def rows(self, text: str, params: Any = ()) -> list[Any]:
        cur = self.conn.cursor()
        try:
            cur.execute(self.sql(text), params)
            return cur.fetchall()
        finally:
            cur.close()

    def run(self, text: str, params: Any = ()) -> None:
        cur = self.conn.cursor()
        try:
            cur.execute(self.sql(text), params)
        finally:
            cur.close()

    def many(self, text: str, seq: list[Any]) -> None:
        cur = self.conn.cursor()
        try:
            cur.executemany(self.sql(text), seq)
        finally:
            cur.close()

    @contextmanager
    def txn(self) -> Iterator[None]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, as the engine's writers)."""
        if self.kind == "postgresql":
            with self.conn.transaction():
                yield
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def copy_out(self, query: str) -> bytes:
        with self.conn.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT") as cp:
            return b"".join(bytes(chunk) for chunk in cp)

    def copy_in(self, table: str, data: bytes) -> None:
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as cp:
            cp.write(data)

    def close(self) -> None:
        self.conn.close()


# --- the measurements' bookkeeping ----------------------------------------------------------


def measurement(
    name: str,
    seconds: float,
    baseline: str,
    baseline_seconds: float,
    bar: float | None,
    never_above: float | None = None,
    **details: Any,
) -> dict[str, Any]:
    """One figure: the engine path against its baseline, `ratio <= bar` to pass."""
    ratio = seconds / baseline_seconds if baseline_seconds > 0 else None
    ok = True if bar is None or ratio is None else ratio <= bar
    doc = {
        "name": name,
        "seconds": round(seconds, 6),
        "baseline": baseline,
        "baseline_seconds": round(baseline_seconds, 6),
        "ratio": round(ratio, 4) if ratio is not None else None,
        "bar": bar,
        "never_above": never_above,
        "pass": ok,
        **details,
    }
    if never_above is not None and ratio is not None:
        doc["within_never_above"] = ratio <= never_above
    return doc


@dataclass
class Steps:
    """Progress reporting: a label per step, out of a known number of steps."""

    total: int
    callback: Progress | None
    done: int = 0

    def __call__(self, label: str) -> None:
        if self.callback is not None:
            self.callback(label, self.done, self.total)
        self.done += 1


@dataclass
class World:
    engine: Engine
    rt: Runtime
    kind: str
    url: str
    raw: Raw
    base: Raw | None = None
    base_cleanup: Callable[[], None] | None = None
    fanout_assignments: list[int] = field(default_factory=list)


# --- setup ----------------------------------------------------------------------------------


def _runtime(at: datetime) -> Runtime:
    return Runtime(clock=FixedClock(at), tz=TZ, calendar=WorkCalendar.load(None), data_dir=Path("data"))


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


def _assign(world: World, def_id: str, scope: str) -> tuple[int, int]:
    with write_session(world.engine) as s:
        result = assign_definition(s, world.rt, OPERATOR, def_id, scope)
    return result.assignment_id, result.created


def _snapshot_baseline(world: World, workdir: Path) -> None:
    """A second database with the identical schema (and the same tree), for the bare inserts."""
    if world.kind == "sqlite":
        main = sqlite_file(world.url)
        assert main is not None
        target = workdir / "baseline.db"
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


# --- 1. fan-out -----------------------------------------------------------------------------


def _bare_fanout(world: World, assignment_id: int) -> float:
    """Copy one fan-out's rows into the baseline database with the bare driver; returns the timed seconds."""
    raw, base = world.raw, world.base
    assert base is not None
    cols = [r for r in raw.rows("SELECT * FROM assignment WHERE id = ?", (assignment_id,))]
    width = len(cols[0])
    marks = ",".join("?" * width)
    base.run(f"INSERT INTO assignment VALUES ({marks})", cols[0])
    task_q = f"SELECT * FROM task WHERE assignment_id = {int(assignment_id)} ORDER BY id"
    audit_q = f"SELECT * FROM audit WHERE assignment_id = {int(assignment_id)} AND action = 'task.created' ORDER BY id"
    if world.kind == "postgresql":
        task_data, audit_data = raw.copy_out(task_q), raw.copy_out(audit_q)

        def load() -> None:
            with base.txn():
                base.copy_in("task", task_data)
                base.copy_in("audit", audit_data)

        return clocked(load)[0]
    task_rows, audit_rows = raw.rows(task_q), raw.rows(audit_q)
    task_sql = f"INSERT INTO task VALUES ({','.join('?' * len(task_rows[0]))})"
    audit_sql = f"INSERT INTO audit VALUES ({','.join('?' * len(audit_rows[0]))})"

    def insert_all() -> None:
        with base.txn():
            base.many(task_sql, task_rows)
            base.many(audit_sql, audit_rows)

    return clocked(insert_all)[0]


def _fanout(world: World, repeat: int, step: Steps) -> dict[str, Any]:
    engine_runs, base_runs, created = [], [], 0
    for i in range(repeat):
        step(f"fan-out {i + 1}/{repeat}")
        seconds, (assignment_id, created) = clocked(lambda: _assign(world, "bench-fanout", PROVINCE))
        world.fanout_assignments.append(assignment_id)
        engine_runs.append(seconds)
        step(f"fan-out baseline {i + 1}/{repeat}")
        base_runs.append(_bare_fanout(world, assignment_id))
    pg = world.kind == "postgresql"
    return measurement(
        "fanout",
        min(engine_runs),
        "COPY of the same rows" if pg else "sqlite3 executemany of the same rows",
        min(base_runs),
        2.0 if pg else 1.5,
        2.0,
        tasks=created,
        audit_rows=created,
        runs=engine_runs,
        baseline_runs=base_runs,
    )


def _fanout_memory(world: World, step: Steps) -> dict[str, Any]:
    """Peak Python memory of a fan-out to one city and to the whole province: set-based, so flat."""
    with read_session(world.engine) as s:
        city = s.scalar(select(Unit.code).where(Unit.level == "municipal").order_by(Unit.code).limit(1))
    out = {}
    for label, scope in (("city", city), ("province", PROVINCE)):
        step(f"fan-out memory ({label})")
        tracemalloc.start()
        try:
            _, created = _assign(world, "bench-fanout", scope)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        out[label] = {"scope": scope, "tasks": created, "peak_bytes": peak}
    return {
        "name": "fanout_memory",
        **out,
        "flat": out["province"]["peak_bytes"] <= max(2 * out["city"]["peak_bytes"], 4 << 20),
    }


# --- 2-4. sweeps ----------------------------------------------------------------------------


def _explain_due(world: World, now: datetime) -> dict[str, Any]:
    with read_session(world.engine) as s:
        plan = explain_batch(s, now)
    return {"plan": plan, "uses_index": "ix_task_next_action_at" in "\n".join(plan)}


def _sweep_idle(world: World, repeat: int, step: Steps, vacuum: bool) -> dict[str, Any]:
    step("idle sweep (warm-up)")
    if vacuum:
        # The fan-outs before this left dead index entries where the probe starts reading. Autovacuum
        # clears them within a minute of such churn; the bench does it itself, since a server may run
        # with autovacuum off (this one does) and the bench runs faster than its naptime.
        world.raw.run("VACUUM ANALYZE task")
    sweep_due(world.engine, world.rt)  # the first sweep of a process re-times provisional tasks once
    runs, counts = [], []
    for _ in range(max(repeat, 5)):
        seconds, result = clocked(lambda: sweep_due(world.engine, world.rt))
        assert result.tasks_touched == 0, "the idle sweep found due work"
        runs.append(seconds)
    step("COUNT(*) of the task table")
    total = 0
    for _ in range(max(repeat, 5)):
        seconds, rows = clocked(lambda: world.raw.rows("SELECT COUNT(*) FROM task"))
        total = rows[0][0]
        counts.append(seconds)
    return measurement(
        "sweep_idle",
        min(runs),
        "SELECT COUNT(*) FROM task",
        min(counts),
        1 / 50,
        tasks_in_table=total,
        explain=_explain_due(world, world.rt.now()),
        runs=runs,
        vacuumed=vacuum,
    )


@dataclass
class DueSet:
    """The tasks made due for the sweep benchmarks: ids lo..hi of one assignment, first reminder at `first`."""

    assignment_id: int
    hi: int
    count: int
    first: datetime
    rt: Runtime
    epoch: int = 0
    second: datetime | None = None


def _due_set(world: World, wanted: int, step: Steps) -> DueSet:
    step("sweep setup: fan-out of the sweep definition")
    assignment_id, created = _assign(world, "bench-sweep", PROVINCE)
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
    return DueSet(assignment_id, hi, count, first, _runtime(first + timedelta(minutes=1)))


def _reset_due(world: World, due: DueSet) -> None:
    """Make the set due again; a new schedule epoch gives its notices new dedupe keys."""
    due.epoch += 1
    raw = world.raw
    with raw.txn():
        raw.run(
            "UPDATE task SET action_cursor = 0, escalation_level = 0, next_action_at = ?, schedule_epoch = ? "
            "WHERE assignment_id = ? AND id <= ?",
            (raw.time(due.first), due.epoch, due.assignment_id, due.hi),
        )


def _bare_sweep(world: World, due: DueSet) -> int:
    """The same writes as the sweep (notice, audit event, task advanced), in batches of 1,000, bare SQL."""
    raw = world.raw
    now = due.rt.now()
    assert due.second is not None
    at, at_iso, nxt = raw.time(now), due.first.isoformat(), raw.time(due.second)
    lock = " FOR UPDATE OF task SKIP LOCKED" if raw.kind == "postgresql" else ""
    done = 0
    while True:
        with raw.txn():
            rows = raw.rows(
                "SELECT id, assignment_id, unit_id, schedule_epoch FROM task WHERE next_action_at <= ? "
                f"ORDER BY next_action_at, id LIMIT 1000{lock}",
                (at,),
            )
            if not rows:
                return done
            keys = [f"t{r[0]}:reminder:1:e{r[3]}" if r[3] else f"t{r[0]}:reminder:1" for r in rows]
            raw.many(
                "INSERT INTO notification (dedupe_key, task_id, kind, step, unit_id, created_at, payload) "
                "VALUES (?, ?, 'reminder', 1, ?, ?, ?)",
                [(k, r[0], r[2], at, raw.json({"at": at_iso})) for k, r in zip(keys, rows, strict=False)],
            )
            raw.many(
                "INSERT INTO audit (at, actor, action, task_id, assignment_id, unit_id, payload) "
                "VALUES (?, 'system', 'task.reminded', ?, ?, ?, ?)",
                [
                    (at, r[0], r[1], r[2], raw.json({"step": 1, "at": at_iso, "dedupe_key": k}))
                    for k, r in zip(keys, rows, strict=False)
                ],
            )
            raw.many(
                "UPDATE task SET action_cursor = 1, next_action_at = ?, escalation_level = 0, updated_at = ? "
                "WHERE id = ?",
                [(nxt, at, r[0]) for r in rows],
            )
            done += len(rows)


def _sweep_due(world: World, due: DueSet, repeat: int, step: Steps) -> dict[str, Any]:
    runs, base_runs, sent = [], [], 0
    for i in range(repeat):
        step(f"sweep of {due.count} due actions {i + 1}/{repeat}")
        _reset_due(world, due)
        seconds, result = clocked(lambda: sweep_due(world.engine, due.rt))
        runs.append(seconds)
        sent = result.reminders_sent
        if due.second is None:
            with read_session(world.engine) as s:
                due.second = s.scalar(
                    select(Task.next_action_at)
                    .where(Task.assignment_id == due.assignment_id)
                    .order_by(Task.id)
                    .limit(1)
                )
        step(f"bare sweep loop {i + 1}/{repeat}")
        _reset_due(world, due)
        base_runs.append(clocked(lambda: _bare_sweep(world, due))[0])
    return measurement(
        "sweep_due",
        min(runs),
        "bare SQL loop, same writes, batches of 1,000",
        min(base_runs),
        1.5,
        due_actions=due.count,
        reminders_sent=sent,
        runs=runs,
        baseline_runs=base_runs,
    )


def _sweeper(url: str, idle: datetime, at: datetime, ready: Any, go: Any, results: Any) -> None:
    """One sweeping worker process: warm up (imports, connection, the once-per-process checks), wait, sweep."""
    engine = make_engine(url)
    try:
        sweep_due(engine, _runtime(idle))
        ready.put(True)
        go.wait()
        try:
            touched: int | str = sweep_due(engine, _runtime(at)).tasks_touched
        except Exception as exc:
            touched = f"{type(exc).__name__}: {exc}"[:300]
        results.put((touched, time.perf_counter()))
    finally:
        engine.dispose()


def _sweep_concurrent(world: World, due: DueSet, one_sweep: float | None, step: Steps) -> dict[str, Any]:
    """Two sweeps at once, in two processes as two workers would run: duplicates, misses, errors, throughput."""
    step("two sweeps at once")
    _reset_due(world, due)
    before = world.raw.rows("SELECT COALESCE(MAX(id), 0) FROM audit")[0][0]
    # Spawned, not forked: a child must not inherit this process's open database connections.
    mp = multiprocessing.get_context("spawn")
    ready, go, results = mp.Queue(), mp.Event(), mp.Queue()
    idle = due.first - timedelta(minutes=1)
    workers = [
        mp.Process(target=_sweeper, args=(world.url, idle, due.rt.now(), ready, go, results))
        for _ in range(2)
    ]
    for w in workers:
        w.start()
    try:
        for _ in workers:
            ready.get(timeout=300)
        # perf_counter is CLOCK_MONOTONIC: one clock for every process on the machine, so the workers' ends compare.
        start = time.perf_counter()
        go.set()
        finished = [results.get(timeout=3600) for _ in workers]
    finally:
        for w in workers:  # a worker that died or hung must not outlive the bench
            w.join(timeout=5)
            if w.is_alive():
                w.terminate()
    seconds = max(end for _, end in finished) - start
    touched = [t for t, _ in finished if isinstance(t, int)]
    errors = [t for t, _ in finished if isinstance(t, str)]
    dup = world.raw.rows(
        "SELECT COUNT(*) FROM (SELECT task_id FROM audit WHERE id > ? AND action = 'task.reminded' "
        "GROUP BY task_id HAVING COUNT(*) > 1) d",
        (before,),
    )[0][0]
    reminded = world.raw.rows(
        "SELECT COUNT(DISTINCT task_id) FROM audit WHERE id > ? AND action = 'task.reminded'", (before,)
    )[0][0]
    pg = world.kind == "postgresql"
    doc = measurement(
        "sweep_concurrent",
        seconds,
        "one sweep of the same actions",
        one_sweep or seconds,
        1 / 1.3 if pg else None,
        duplicates=dup,
        missed=due.count - reminded,
        errors=errors,
        tasks_touched=touched,
        throughput_vs_one=round((one_sweep or seconds) / seconds, 3),
    )
    doc["pass"] = doc["pass"] and dup == 0 and not errors and reminded == due.count
    return doc


# --- 5. roll-up -----------------------------------------------------------------------------

_MEASURES_SQL = """COUNT(*), SUM(CASE WHEN t.state = 'done' THEN 1 ELSE 0 END),
 SUM(CASE WHEN t.state = 'submitted' THEN 1 ELSE 0 END), SUM(CASE WHEN t.state = 'open' THEN 1 ELSE 0 END),
 SUM(CASE WHEN t.state = 'waived' THEN 1 ELSE 0 END),
 SUM(CASE WHEN t.state IN ('open', 'submitted') AND t.overdue_at <= ? THEN 1 ELSE 0 END),
 SUM(CASE WHEN t.escalation_level > 0 THEN 1 ELSE 0 END), COALESCE(SUM(t.progress), 0), SUM(t.target)"""


def _rollup(world: World, repeat: int, step: Steps) -> tuple[dict[str, Any], float]:
    raw, now = world.raw, world.rt.now()
    root_path = raw.rows("SELECT path FROM unit WHERE code = ?", (PROVINCE,))[0][0]
    at, cut = raw.time(now), len(root_path) + 5
    by_child = (
        f"SELECT substr(u.path, 1, {cut}) AS prefix, {_MEASURES_SQL} FROM task t JOIN unit u ON u.id = t.unit_id "
        "WHERE u.path >= ? AND u.path < ? GROUP BY substr(u.path, 1, " + str(cut) + ")"
    )
    by_def = (
        f"SELECT a.def_id, {_MEASURES_SQL} FROM task t JOIN unit u ON u.id = t.unit_id "
        "JOIN assignment a ON a.id = t.assignment_id WHERE u.path >= ? AND u.path < ? GROUP BY a.def_id"
    )
    total = (
        f"SELECT {_MEASURES_SQL} FROM task t JOIN unit u ON u.id = t.unit_id WHERE u.path >= ? AND u.path < ?"
    )
    params = (at, root_path, root_path + "~")

    def report() -> dict[str, Any]:
        with read_session(world.engine) as s:
            return rollup(s, now, OPERATOR, PROVINCE)

    engine_runs, group_runs, three_runs = [], [], []
    children = 0
    for i in range(repeat):
        step(f"roll-up {i + 1}/{repeat}")
        seconds, doc = clocked(report)
        engine_runs.append(seconds)
        children = len(doc["children"])
        step(f"hand-written GROUP BY {i + 1}/{repeat}")
        group_runs.append(clocked(lambda: raw.rows(by_child, params))[0])
        three_runs.append(
            clocked(lambda: (raw.rows(by_child, params), raw.rows(by_def, params), raw.rows(total, params)))[
                0
            ]
        )
    best = min(engine_runs)
    doc = measurement(
        "rollup",
        best,
        "hand-written GROUP BY over the path index",
        min(group_runs),
        1.3,
        children=children,
        same_three_queries_seconds=round(min(three_runs), 6),
        ratio_vs_same_three_queries=round(best / min(three_runs), 4),
        runs=engine_runs,
        baseline_runs=group_runs,
    )
    return doc, best


def _rollup_cte(world: World, rollup_seconds: float, repeat: int, step: Steps) -> dict[str, Any]:
    """The recursive-CTE alternative, reported beside the roll-up: no bar (see docs/performance.md).

    DESIGN asked the path index to make the report 5x faster than a CTE over parent_id. Both
    reports are dominated by joining the subtree's tasks to their units, so they run within
    tens of percent of each other; what the path index wins is finding the subtree, which is
    measured here too (the subtree's unit ids: one range scan against the recursion).
    """
    raw = world.raw
    root_id, root_path = raw.rows("SELECT id, path FROM unit WHERE code = ?", (PROVINCE,))[0]
    cte = (
        "WITH RECURSIVE sub(id, top) AS (SELECT id, id FROM unit WHERE parent_id = ? "
        "UNION ALL SELECT u.id, sub.top FROM unit u JOIN sub ON u.parent_id = sub.id) "
        f"SELECT sub.top, {_MEASURES_SQL} FROM task t JOIN sub ON sub.id = t.unit_id GROUP BY sub.top"
    )
    ids_cte = (
        "WITH RECURSIVE sub(id) AS (SELECT id FROM unit WHERE id = ? "
        "UNION ALL SELECT u.id FROM unit u JOIN sub ON u.parent_id = sub.id) SELECT id FROM sub"
    )
    ids_path = "SELECT id FROM unit WHERE path >= ? AND path < ?"
    runs, by_cte, by_path = [], [], []
    for i in range(repeat):
        step(f"recursive CTE roll-up {i + 1}/{repeat}")
        runs.append(clocked(lambda: raw.rows(cte, (root_id, raw.time(world.rt.now()))))[0])
        by_cte.append(clocked(lambda: raw.rows(ids_cte, (root_id,)))[0])
        by_path.append(clocked(lambda: raw.rows(ids_path, (root_path, root_path + "~")))[0])
    doc = measurement(
        "rollup_cte", rollup_seconds, "recursive CTE over parent_id (same report)", min(runs), None, runs=runs
    )
    doc["cte_slower_by"] = round(min(runs) / rollup_seconds, 3) if rollup_seconds else None
    doc["subtree"] = {
        "path_range_seconds": round(min(by_path), 6),
        "cte_seconds": round(min(by_cte), 6),
        "cte_slower_by": round(min(by_cte) / min(by_path), 3) if min(by_path) else None,
    }
    return doc


# --- 6. outbox delivery ---------------------------------------------------------------------


def _outbox_rows(world: World, due: DueSet, wanted: int, digest_size: int) -> tuple[int, int, int]:
    """Outbox rows (email, `digest_size` notices per digest) for the newest notices; returns (lo, hi, count)."""
    raw, now = world.raw, due.rt.now()
    notes = raw.rows(
        "SELECT id, task_id, unit_id, kind FROM notification ORDER BY id DESC LIMIT ?", (wanted,)
    )
    digests = max(1, len(notes) // digest_size)
    rows = []
    for n, (nid, task_id, unit_id, kind) in enumerate(sorted(notes)):
        address = f"bench-{n % digests}@example.invalid"
        rows.append(
            {
                "dedupe_key": f"bench|{nid}",
                "notification_id": nid,
                "kind": kind,
                "task_id": task_id,
                "unit_id": unit_id,
                "channel": "email",
                "address": address,
                "account_id": None,
                "digest_key": digest_key_for("email", address, "bench"),
                "status": "pending",
                "claim_key": None,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": None,
                "created_at": now,
                "sent_at": None,
            }
        )
    outbox = Outbox.__table__
    with write_session(world.engine) as s:
        ids = list(s.scalars(insert(outbox).returning(outbox.c.id), rows))
    return min(ids), max(ids), len(ids)


def _reset_outbox(world: World, lo: int, hi: int, now: datetime) -> None:
    raw = world.raw
    with raw.txn():
        raw.run(
            "UPDATE outbox SET status = 'pending', claim_key = NULL, attempts = 0, sent_at = NULL, last_error = NULL, "
            "next_attempt_at = ? WHERE id BETWEEN ? AND ?",
            (raw.time(now), lo, hi),
        )


def _bare_delivery(world: World, now: datetime, batch: int = 500) -> int:
    """Claim due digests under a lease, then ack each one: the delivery loop without rendering."""
    raw = world.raw
    at, lease = raw.time(now), raw.time(now + timedelta(seconds=300))
    lock = " FOR UPDATE SKIP LOCKED" if raw.kind == "postgresql" else ""
    acked = 0
    while True:
        with raw.txn():
            keys = sorted(
                {
                    r[0]
                    for r in raw.rows(
                        "SELECT digest_key FROM outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= ? "
                        f"ORDER BY next_attempt_at, id LIMIT ?{lock}",
                        (at, batch),
                    )
                }
            )
            if not keys:
                return acked
            marks = ",".join("?" * len(keys))
            rows = raw.rows(
                f"SELECT id, digest_key FROM outbox WHERE digest_key IN ({marks}) "
                f"AND status IN ('pending', 'sending') AND next_attempt_at <= ? ORDER BY id{lock}",
                (*keys, at),
            )
            groups: dict[str, list[int]] = {}
            for oid, key in rows:
                groups.setdefault(key, []).append(oid)
            claims = []
            for key, ids in groups.items():
                claim = f"{key}#{ids[0]}"
                raw.run(
                    f"UPDATE outbox SET status = 'sending', claim_key = ?, next_attempt_at = ? "
                    f"WHERE id IN ({','.join('?' * len(ids))})",
                    (claim, lease, *ids),
                )
                claims.append((claim, ids))
        for claim, ids in claims:
            with raw.txn():
                raw.run(
                    "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL "
                    f"WHERE id IN ({','.join('?' * len(ids))}) AND claim_key = ?",
                    (at, *ids, claim),
                )
            acked += len(ids)


def _delivery(world: World, due: DueSet, opts: BenchOptions, step: Steps) -> dict[str, Any]:
    step("outbox setup")
    now = due.rt.now()
    lo, hi, count = _outbox_rows(world, due, opts.outbox_rows, opts.digest_size)
    runs, base_runs, notices = [], [], 0
    for i in range(opts.repeat):
        step(f"outbox delivery {i + 1}/{opts.repeat}")
        _reset_outbox(world, lo, hi, now)
        transport = NoopTransport()
        seconds, _ = clocked(
            lambda transport=transport: deliver_outbox(world.engine, due.rt, {"email": transport})
        )
        runs.append(seconds)
        notices = transport.notices
        step(f"bare claim-and-ack loop {i + 1}/{opts.repeat}")
        _reset_outbox(world, lo, hi, now)
        base_runs.append(clocked(lambda: _bare_delivery(world, now))[0])
    return measurement(
        "delivery",
        min(runs),
        "bare claim-and-ack loop",
        min(base_runs),
        1.5,
        outbox_rows=count,
        digests=max(1, count // opts.digest_size),
        notices_delivered=notices,
        runs=runs,
        baseline_runs=base_runs,
    )


# --- the whole run --------------------------------------------------------------------------


def _steps(opts: BenchOptions, wanted: set[str]) -> int:
    r, h = opts.repeat, opts.heavy_repeat
    n = 4 + 2 * r  # import, snapshot, fan-outs and baselines
    n += 2 if "fanout_memory" in wanted else 0
    n += 2 if "sweep_idle" in wanted else 0
    n += 1 if wanted & ({"sweep_due", "sweep_concurrent", "delivery"} | opts.extra_sweeping) else 0
    n += 2 * h if wanted & {"sweep_due", "sweep_concurrent"} else 0
    n += 1 if "sweep_concurrent" in wanted else 0
    n += 2 * r if wanted & {"rollup", "rollup_cte"} else 0
    n += r if "rollup_cte" in wanted else 0
    n += 1 + 2 * r if "delivery" in wanted else 0
    return n + len(wanted & set(opts.extra))


def _holds_units(engine: Engine) -> bool:
    with read_session(engine) as s:
        return bool(s.scalar(select(func.count()).select_from(Unit.__table__)))


def run_bench(opts: BenchOptions, progress: Progress | None = None) -> dict[str, Any]:
    """Build a province-sized tree, measure every selected path against its baseline; one JSON-able document."""
    known = (*MEASURES, *opts.extra)
    wanted = set(known if not opts.only else opts.only)
    unknown = wanted - set(known)
    if unknown:
        raise InvalidInput(
            [
                Problem(
                    "bench",
                    "--only",
                    f"unknown measurement {', '.join(sorted(unknown))}; one of {', '.join(known)}",
                )
            ]
        )
    opts.workdir.mkdir(parents=True, exist_ok=True)
    url = opts.url or f"sqlite:///{opts.workdir / 'bench.db'}"
    step = Steps(_steps(opts, wanted), progress)
    engine = make_engine(url)
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
    upgrade(engine)
    kind = "sqlite" if is_sqlite(engine) else "postgresql"
    world = World(engine, _runtime(T0), kind, url, Raw.open(url))
    doc: dict[str, Any] = {"database": kind, "units": opts.units, "repeat": opts.repeat, "measurements": []}
    try:
        step("writing the tree CSV")
        csv_path = opts.workdir / "units.csv"
        doc["tree"] = province_csv(csv_path, opts.units)

        def load() -> Any:
            with write_session(engine) as s:
                return import_units(s, T0, OPERATOR, csv_path)

        step(f"importing {opts.units} units")
        seconds, imported = clocked(load)
        doc["import"] = {
            "seconds": round(seconds, 3),
            "created": imported.created,
            "units_per_second": round(imported.created / seconds),
        }
        doc["analyzed_after_import"] = False
        if kind == "postgresql" and opts.analyze:
            world.raw.run("ANALYZE")
            doc["analyzed_after_import"] = True
        _store_definition(engine, FANOUT_DEF)
        _store_definition(engine, SWEEP_DEF)
        step("baseline database (same schema, same tree)")
        _snapshot_baseline(world, opts.workdir)
        results = doc["measurements"]
        step("fan-out")
        fan = _fanout(world, opts.repeat, step)
        if "fanout" in wanted:
            results.append(fan)
        if "fanout_memory" in wanted:
            doc["fanout_memory"] = _fanout_memory(world, step)
        if "sweep_idle" in wanted:
            results.append(_sweep_idle(world, opts.repeat, step, kind == "postgresql" and opts.analyze))
        due = None
        if wanted & ({"sweep_due", "sweep_concurrent", "delivery"} | opts.extra_sweeping):
            due = _due_set(world, opts.due_actions, step)
        one_sweep = None
        # Delivery needs the notices a due sweep writes, so it runs one even when not measured.
        if due is not None and wanted & {"sweep_due", "sweep_concurrent", "delivery"}:
            swept = _sweep_due(world, due, opts.heavy_repeat if "sweep_due" in wanted else 1, step)
            one_sweep = swept["seconds"]
            if "sweep_due" in wanted:
                results.append(swept)
        if due is not None and "sweep_concurrent" in wanted:
            results.append(_sweep_concurrent(world, due, one_sweep, step))
        if wanted & {"rollup", "rollup_cte"}:
            if kind == "postgresql" and opts.analyze:
                # The sweeps' fan-out grew the task table by a fifth since the last statistics; autoanalyze
                # would have caught up, and without it the report was planned as 215,000 index probes (5 s).
                world.raw.run("ANALYZE task")
            roll, best = _rollup(world, opts.repeat, step)
            if "rollup" in wanted:
                results.append(roll)
            if "rollup_cte" in wanted:
                results.append(_rollup_cte(world, best, opts.repeat, step))
        if due is not None and "delivery" in wanted:
            results.append(_delivery(world, due, opts, step))

        def redue(due: DueSet | None = due) -> datetime:
            assert due is not None
            _reset_due(world, due)
            return due.rt.now()

        handle = BenchHandle(
            url, engine, world.rt, opts.workdir, opts.repeat, redue if due is not None else None
        )
        for name, fn in opts.extra.items():
            if name in wanted:
                step(name)
                results.append(fn(handle))
        doc["tasks_in_table"] = world.raw.rows("SELECT COUNT(*) FROM task")[0][0]
        doc["passed"] = all(m["pass"] for m in results)
        return doc
    finally:
        world.raw.close()
        if world.base is not None:
            world.base.close()
        engine.dispose()
        if world.base_cleanup is not None:
            world.base_cleanup()
