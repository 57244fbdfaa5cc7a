"""Two sweeps at once, in two processes as two workers would run: duplicates, misses, errors, throughput."""

from __future__ import annotations

import multiprocessing
import time
from datetime import datetime, timedelta
from typing import Any

from duban.bench.report import measurement
from duban.bench.sweep_due import ensure_swept
from duban.bench.world import BenchOptions, World, runtime_at
from duban.engine.followup.sweep import sweep_due
from duban.engine.store.db import make_engine

NAME = "sweep_concurrent"


def steps(opts: BenchOptions) -> int:
    return 1


def _sweeper(url: str, idle: datetime, at: datetime, ready: Any, go: Any, results: Any) -> None:
    """One sweeping worker process: warm up (imports, connection, the once-per-process checks), wait, sweep."""
    engine = make_engine(url)
    try:
        sweep_due(engine, runtime_at(idle))
        ready.put(True)
        go.wait()
        try:
            touched: int | str = sweep_due(engine, runtime_at(at)).tasks_touched
        except Exception as exc:
            touched = f"{type(exc).__name__}: {exc}"[:300]
        results.put((touched, time.perf_counter()))
    finally:
        engine.dispose()


def measure(world: World) -> dict[str, Any]:
    """Two sweeps at once, in two processes as two workers would run: duplicates, misses, errors, throughput."""
    one_sweep = ensure_swept(world)
    due = world.due()
    world.step("two sweeps at once")
    world.redue()
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
    doc = measurement(
        NAME,
        seconds,
        "one sweep of the same actions",
        one_sweep,
        1 / 1.3 if world.pg else None,
        duplicates=dup,
        missed=due.count - reminded,
        errors=errors,
        tasks_touched=touched,
        throughput_vs_one=round(one_sweep / seconds, 3),
    )
    doc["pass"] = doc["pass"] and dup == 0 and not errors and reminded == due.count
    return doc
