"""The dashboard: the province root's report from the task counts, against the scan it replaces; and what keeping the counts costs.

Three figures in one measure:

* the report: `engine.overview.reports.rollup` (the counts) against `rollup_scan` (every task
  of the subtree grouped, the way reports were answered before), best of --repeat each; the
  two documents must be equal. Goal: 20x faster at 215k units (ratio ≤ 0.05);
* the fan-out's overhead: the counting statement a fan-out runs (`counts.put_created` over the
  tasks it created), run again on the province fan-out's own tasks in a transaction rolled back,
  over the fan-out's time. Goal ≤ 10%;
* the sweep's overhead: a sweep batch changes counts only for tasks escalating for the first
  time (reminders change none), with one `counts.shift_many` per batch; the worst case, every
  task of the due set escalating, is that call over each batch of 1,000 (rolled back), over a
  sweep of the same set. Goal ≤ 10%.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.bench.report import measurement
from duban.bench.sweep_due import ensure_swept
from duban.bench.tree import PROVINCE
from duban.bench.world import BenchOptions, World, clocked
from duban.engine.access.actors import OPERATOR
from duban.engine.overview.reports import rollup, rollup_scan
from duban.engine.store import counts
from duban.engine.store.db import read_session
from duban.engine.store.models import Task, TaskCount, Unit

NAME = "dashboard"
BAR = 0.05  # 20x faster than the scan
OVERHEAD_BAR = 0.10
BATCH = 1000
tasks = Task.__table__
units = Unit.__table__


def steps(opts: BenchOptions) -> int:
    return 2 * opts.repeat + 2


def _rolled_back(world: World, work: Callable[[Session], None]) -> float:
    """Seconds of `work` in a write transaction that is then rolled back, leaving the counts as they were."""
    with world.engine.connect() as conn:
        conn = conn.execution_options(duban_write=True)
        with Session(bind=conn) as session:
            txn = conn.begin()
            try:
                seconds, _ = clocked(lambda: (work(session), session.flush()))
            finally:
                txn.rollback()
    return seconds


def _fanout_overhead(world: World) -> dict[str, Any]:
    assignment_id = world.fanout_assignments[0]
    with read_session(world.engine) as s:
        period, overdue_at = s.execute(
            select(tasks.c.period, tasks.c.overdue_at).where(tasks.c.assignment_id == assignment_id).limit(1)
        ).one()
    created = tasks.c.assignment_id == assignment_id

    def count_them(session: Session) -> None:
        counts.put_created(session, created, assignment_id, period, overdue_at, with_target=False)

    runs = [_rolled_back(world, count_them) for _ in range(world.opts.repeat)]
    fanout = world.fanout_seconds or 0.0
    share = min(runs) / fanout if fanout else None
    return {
        "counting_seconds": round(min(runs), 6),
        "fanout_seconds": round(fanout, 6),
        "overhead": round(share, 4) if share is not None else None,
        "pass": share is not None and share <= OVERHEAD_BAR,
        "runs": runs,
    }


def _sweep_overhead(world: World) -> dict[str, Any]:
    sweep = ensure_swept(world)
    due = world.due()
    with read_session(world.engine) as s:
        rows = s.execute(
            select(
                units.c.path,
                tasks.c.assignment_id,
                tasks.c.period,
                tasks.c.state,
                tasks.c.overdue_at,
                tasks.c.progress,
                tasks.c.target,
            )
            .join(units, units.c.id == tasks.c.unit_id)
            .where(tasks.c.assignment_id == due.assignment_id, tasks.c.id <= due.hi)
            .order_by(tasks.c.id)
        ).all()
    moves = []
    for path, assignment_id, period, state, overdue_at, progress, target in rows:
        was = counts.Counted(assignment_id, period, state, overdue_at, False, False, progress, target)
        moves.append((path, was, was._replace(escalated=True)))
    batches = [moves[i : i + BATCH] for i in range(0, len(moves), BATCH)]

    def every_batch_escalates(session: Session) -> None:
        for batch in batches:
            counts.shift_many(session, batch)

    seconds = _rolled_back(world, every_batch_escalates)
    share = seconds / sweep if sweep else None
    return {
        "counting_seconds": round(seconds, 6),
        "sweep_seconds": round(sweep, 6),
        "tasks": len(moves),
        "overhead": round(share, 4) if share is not None else None,
        "pass": share is not None and share <= OVERHEAD_BAR,
    }


def measure(world: World) -> dict[str, Any]:
    repeat, step, now = world.opts.repeat, world.step, world.rt.now()
    if world.maintained:
        world.raw.run("ANALYZE task")
        world.raw.run("ANALYZE task_count")

    def report(build: Callable[..., dict[str, Any]]) -> dict[str, Any]:
        with read_session(world.engine) as s:
            return build(s, now, OPERATOR, PROVINCE)

    # One unmeasured run each: the first pays for building the statements, on both sides.
    report(rollup)
    report(rollup_scan)
    count_runs, scan_runs = [], []
    from_counts: dict[str, Any] = {}
    from_scan: dict[str, Any] = {}
    for i in range(repeat):
        step(f"dashboard from the counts {i + 1}/{repeat}")
        seconds, from_counts = clocked(lambda: report(rollup))
        count_runs.append(seconds)
        step(f"dashboard by scanning the tasks {i + 1}/{repeat}")
        seconds, from_scan = clocked(lambda: report(rollup_scan))
        scan_runs.append(seconds)
    step("counting overhead: fan-out")
    fanout = _fanout_overhead(world)
    step("counting overhead: sweep")
    sweep = _sweep_overhead(world)
    with read_session(world.engine) as s:
        count_rows = s.scalar(select(func.count()).select_from(TaskCount.__table__))
    doc = measurement(
        NAME,
        min(count_runs),
        "the same report by scanning the subtree's tasks",
        min(scan_runs),
        BAR,
        same_report=from_counts == from_scan,
        faster_by=round(min(scan_runs) / min(count_runs), 1) if min(count_runs) else None,
        children=len(from_counts["children"]),
        tasks_in_subtree=from_counts["total"]["tasks"],
        count_rows=count_rows,
        fanout_overhead=fanout,
        sweep_overhead=sweep,
        runs=count_runs,
        baseline_runs=scan_runs,
    )
    doc["pass"] = doc["pass"] and doc["same_report"] and fanout["pass"] and sweep["pass"]
    return doc
