"""The dashboard: the province root's report from the task counts, against the scan it replaces; and what keeping the counts costs.

Five figures in one measure:

* the report: `engine.overview.reports.rollup` (the counts) against `rollup_scan` (every task
  of the subtree grouped, the way reports were answered before), best of --repeat each; the
  two documents must be equal. Goal: 20x faster at 215k units (ratio ≤ 0.05);
* the report of the current year (`--period`), from the counts (keyed by trigger) and by scan;
* the report again with the whole due set escalated (in a transaction rolled back): its escalated
  figure is read from the escalated tasks through their partial index, so this is what it costs
  when many of the province's tasks are 督办 (a third at 50,000 units, a quarter at 215,000);
* the fan-out's overhead: the counting statement a fan-out runs (`counts.put_created` over the
  tasks it created), run again on the province fan-out's own tasks in a transaction rolled back,
  over the fan-out's time. Goal ≤ 10%;
* the sweep's overhead: reminders and escalations move no count row (escalation is not in the
  counts' key); what an escalation costs the escalated figure is its entry in `ix_task_escalated`.
  The worst case, every task of the due set escalating, is the UPDATE of their escalation level
  with that index less the same UPDATE with the index dropped (each rolled back), over a sweep of
  the same set. Goal ≤ 10%.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from duban.bench.report import measurement
from duban.bench.sweep_due import ensure_swept
from duban.bench.tree import PROVINCE
from duban.bench.world import BenchOptions, World, clocked
from duban.engine.access.actors import OPERATOR
from duban.engine.overview.reports import rollup, rollup_scan
from duban.engine.store import counts
from duban.engine.store.db import read_session
from duban.engine.store.models import Task, TaskCount

NAME = "dashboard"
BAR = 0.05  # 20x faster than the scan
OVERHEAD_BAR = 0.10
tasks = Task.__table__


def steps(opts: BenchOptions) -> int:
    return 4 * opts.repeat + 3


def _rolled_back(
    world: World, work: Callable[[Session], Any], before: Callable[[Session], Any] | None = None
) -> tuple[float, Any]:
    """Seconds and result of `work` (after `before`, untimed) in a write transaction then rolled back."""
    with world.engine.connect() as conn:
        conn = conn.execution_options(duban_write=True)
        with Session(bind=conn) as session:
            txn = conn.begin()
            try:
                if before is not None:
                    before(session)
                    session.flush()
                seconds, result = clocked(lambda: (work(session), session.flush())[0])
            finally:
                txn.rollback()
    return seconds, result


def _fanout_overhead(world: World) -> dict[str, Any]:
    assignment_id = world.fanout_assignments[0]
    with read_session(world.engine) as s:
        period, trigger_at, overdue_at = s.execute(
            select(tasks.c.period, tasks.c.trigger_at, tasks.c.overdue_at)
            .where(tasks.c.assignment_id == assignment_id)
            .limit(1)
        ).one()
    created = tasks.c.assignment_id == assignment_id

    def count_them(session: Session) -> None:
        counts.put_created(session, created, assignment_id, period, trigger_at, overdue_at, with_target=False)

    runs = [_rolled_back(world, count_them)[0] for _ in range(world.opts.repeat)]
    fanout = world.fanout_seconds or 0.0
    share = min(runs) / fanout if fanout else None
    return {
        "counting_seconds": round(min(runs), 6),
        "fanout_seconds": round(fanout, 6),
        "overhead": round(share, 4) if share is not None else None,
        "pass": share is not None and share <= OVERHEAD_BAR,
        "runs": runs,
    }


def _escalate_due_set(world: World) -> Callable[[Session], int]:
    due = world.due()

    def escalate(session: Session) -> int:
        changed = session.execute(
            update(tasks)
            .where(tasks.c.assignment_id == due.assignment_id, tasks.c.id <= due.hi)
            .values(escalation_level=1)
        )
        return int(changed.rowcount)  # type: ignore[attr-defined]

    return escalate


def _sweep_overhead(world: World) -> dict[str, Any]:
    sweep = ensure_swept(world)
    escalate = _escalate_due_set(world)
    with read_session(world.engine) as s:
        rows_before = s.scalar(select(func.count()).select_from(TaskCount.__table__))

    def unindexed(session: Session) -> None:
        session.execute(text("DROP INDEX ix_task_escalated"))

    with_index, without_index, escalated = [], [], 0
    for _ in range(world.opts.repeat):
        seconds, escalated = _rolled_back(world, escalate)
        with_index.append(seconds)
        without_index.append(_rolled_back(world, escalate, unindexed)[0])
    upkeep = max(0.0, min(with_index) - min(without_index))
    share = upkeep / sweep if sweep else None
    with read_session(world.engine) as s:
        rows_after = s.scalar(select(func.count()).select_from(TaskCount.__table__))
    return {
        "counting_seconds": round(upkeep, 6),
        "escalation_update_seconds": round(min(with_index), 6),
        "without_index_seconds": round(min(without_index), 6),
        "sweep_seconds": round(sweep, 6),
        "tasks": escalated,
        "count_rows_moved_by_the_sweep": rows_after - rows_before,
        "overhead": round(share, 4) if share is not None else None,
        "pass": share is not None and share <= OVERHEAD_BAR and rows_after == rows_before,
    }


def _report_escalated(world: World, now: Any) -> dict[str, Any]:
    """The report from the counts and by scan with the due set escalated (rolled back), best of --repeat."""
    escalate = _escalate_due_set(world)

    def report(build: Callable[..., dict[str, Any]]) -> Callable[[Session], dict[str, Any]]:
        return lambda s: build(s, now, OPERATOR, PROVINCE)

    runs: dict[str, list[float]] = {"counts": [], "scan": []}
    docs: dict[str, Any] = {}
    for _ in range(world.opts.repeat):
        for name, build in (("counts", rollup), ("scan", rollup_scan)):
            seconds, docs[name] = _rolled_back(world, report(build), escalate)
            runs[name].append(seconds)
    return {
        "escalated": docs["counts"]["total"]["escalated"],
        "counts_seconds": round(min(runs["counts"]), 6),
        "scan_seconds": round(min(runs["scan"]), 6),
        "same_report": docs["counts"] == docs["scan"],
    }


def _compare(
    world: World, now: Any, label: str, period: str | None = None
) -> tuple[list[float], list[float], dict[str, Any], dict[str, Any]]:
    """The province's report from the counts and by scan, --repeat times each after one unmeasured run."""
    repeat, step = world.opts.repeat, world.step

    def report(build: Callable[..., dict[str, Any]]) -> dict[str, Any]:
        with read_session(world.engine) as s:
            return build(s, now, OPERATOR, PROVINCE, None, period, world.rt.tz)

    # The first run pays for building the statements, on both sides.
    report(rollup)
    report(rollup_scan)
    count_runs, scan_runs = [], []
    from_counts: dict[str, Any] = {}
    from_scan: dict[str, Any] = {}
    for i in range(repeat):
        step(f"{label} from the counts {i + 1}/{repeat}")
        seconds, from_counts = clocked(lambda: report(rollup))
        count_runs.append(seconds)
        step(f"{label} by scanning the tasks {i + 1}/{repeat}")
        seconds, from_scan = clocked(lambda: report(rollup_scan))
        scan_runs.append(seconds)
    return count_runs, scan_runs, from_counts, from_scan


def measure(world: World) -> dict[str, Any]:
    step, now = world.step, world.rt.now()
    if world.maintained:
        world.raw.run("ANALYZE task")
        world.raw.run("ANALYZE task_count")
    count_runs, scan_runs, from_counts, from_scan = _compare(world, now, "dashboard")
    year = str(world.rt.local(now).year)
    runs = _compare(world, now, f"dashboard of the period {year}", year)
    period = {
        "period": year,
        "tasks": runs[2]["total"]["tasks"],
        "counts_seconds": round(min(runs[0]), 6),
        "scan_seconds": round(min(runs[1]), 6),
        "same_report": runs[2] == runs[3],
    }
    step("counting overhead: fan-out")
    fanout = _fanout_overhead(world)
    step("counting overhead: sweep")
    sweep = _sweep_overhead(world)
    step("the report with the due set escalated")
    escalated = _report_escalated(world, now)
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
        with_escalated=escalated,
        of_a_period=period,
        runs=count_runs,
        baseline_runs=scan_runs,
    )
    doc["pass"] = (
        doc["pass"]
        and doc["same_report"]
        and escalated["same_report"]
        and period["same_report"]
        and fanout["pass"]
        and sweep["pass"]
    )
    return doc
