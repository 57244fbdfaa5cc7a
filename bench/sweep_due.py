"""The due sweep: `due_actions` reminders through the engine, against a bare SQL loop making the same writes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from duban.bench.report import measurement
from duban.bench.world import BenchOptions, DueSet, World, clocked
from duban.engine.followup.sweep import sweep_due
from duban.engine.store.db import read_session
from duban.engine.store.models import Task

NAME = "sweep_due"


def steps(opts: BenchOptions) -> int:
    return 1 + 2 * opts.heavy_repeat


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


def _sweeps(world: World, repeat: int) -> dict[str, Any]:
    due = world.due()
    runs, base_runs, sent = [], [], 0
    for i in range(repeat):
        world.step(f"sweep of {due.count} due actions {i + 1}/{repeat}")
        world.redue()
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
        world.step(f"bare sweep loop {i + 1}/{repeat}")
        world.redue()
        base_runs.append(clocked(lambda: _bare_sweep(world, due))[0])
    world.one_sweep_seconds = min(runs)
    return measurement(
        NAME,
        min(runs),
        "bare SQL loop, same writes, batches of 1,000",
        min(base_runs),
        1.5,
        due_actions=due.count,
        reminders_sent=sent,
        runs=runs,
        baseline_runs=base_runs,
    )


def ensure_swept(world: World) -> float:
    """A sweep of the due set's time: the notices it writes are what delivery sends (one run when not measured)."""
    if world.one_sweep_seconds is None:
        _sweeps(world, 1)
    assert world.one_sweep_seconds is not None
    return world.one_sweep_seconds


def measure(world: World) -> dict[str, Any]:
    return _sweeps(world, world.opts.heavy_repeat)
