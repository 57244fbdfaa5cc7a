"""The idle sweep: a sweep with nothing due, against counting the task table (bar: 1/50 of the count)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from duban.bench.report import measurement
from duban.bench.world import BenchOptions, World, clocked
from duban.engine.followup.sweep import explain_batch, sweep_due
from duban.engine.store.db import read_session

NAME = "sweep_idle"


def steps(opts: BenchOptions) -> int:
    return 2


def _explain_due(world: World, now: datetime) -> dict[str, Any]:
    with read_session(world.engine) as s:
        plan = explain_batch(s, now)
    return {"plan": plan, "uses_index": "ix_task_next_action_at" in "\n".join(plan)}


def measure(world: World) -> dict[str, Any]:
    world.step("idle sweep (warm-up)")
    if world.maintained:
        # The fan-outs before this left dead index entries where the probe starts reading. Autovacuum
        # clears them within a minute of such churn; the bench does it itself, since a server may run
        # with autovacuum off (this one does) and the bench runs faster than its naptime.
        world.raw.run("VACUUM ANALYZE task")
    sweep_due(world.engine, world.rt)  # the first sweep of a process re-times provisional tasks once
    runs, counts = [], []
    times = max(world.opts.repeat, 5)
    for _ in range(times):
        seconds, result = clocked(lambda: sweep_due(world.engine, world.rt))
        assert result.tasks_touched == 0, "the idle sweep found due work"
        runs.append(seconds)
    world.step("COUNT(*) of the task table")
    total = 0
    for _ in range(times):
        seconds, rows = clocked(lambda: world.raw.rows("SELECT COUNT(*) FROM task"))
        total = rows[0][0]
        counts.append(seconds)
    return measurement(
        NAME,
        min(runs),
        "SELECT COUNT(*) FROM task",
        min(counts),
        1 / 50,
        tasks_in_table=total,
        explain=_explain_due(world, world.rt.now()),
        runs=runs,
        vacuumed=world.maintained,
    )
