"""The roll-up by scan: the province root's report as one GROUP BY over the subtree's tasks (`rollup_scan`, the
reference the counts are held to), against the same GROUP BY written by hand. The dashboard figure
(bench/dashboard.py) times the report from the counts against this scan."""

from __future__ import annotations

from typing import Any

from duban.bench.report import measurement
from duban.bench.tree import PROVINCE
from duban.bench.world import BenchOptions, World, clocked
from duban.engine.access.actors import OPERATOR
from duban.engine.overview.reports import rollup_scan
from duban.engine.store.db import read_session

NAME = "rollup"


def steps(opts: BenchOptions) -> int:
    return 2 * opts.repeat


MEASURES_SQL = """COUNT(*), SUM(CASE WHEN t.state = 'done' THEN 1 ELSE 0 END),
 SUM(CASE WHEN t.state = 'submitted' THEN 1 ELSE 0 END), SUM(CASE WHEN t.state = 'open' THEN 1 ELSE 0 END),
 SUM(CASE WHEN t.state = 'waived' THEN 1 ELSE 0 END), SUM(CASE WHEN t.state = 'cancelled' THEN 1 ELSE 0 END),
 SUM(CASE WHEN t.state IN ('open', 'submitted') AND t.overdue_at <= ? THEN 1 ELSE 0 END),
 SUM(CASE WHEN t.escalation_level > 0 THEN 1 ELSE 0 END),
 SUM(CASE WHEN t.state = 'done' AND t.finished_at >= t.overdue_at THEN 1 ELSE 0 END),
 COALESCE(SUM(t.progress), 0), SUM(t.target)"""


def best_seconds(world: World) -> float:
    """The best roll-up's seconds (the roll-up runs, unrecorded, when only its CTE rival is measured)."""
    if world.rollup_seconds is None:
        measure(world)
    assert world.rollup_seconds is not None
    return world.rollup_seconds


def measure(world: World) -> dict[str, Any]:
    repeat, step = world.opts.repeat, world.step
    if world.maintained:
        # The sweeps' fan-out grew the task table by a fifth since the last statistics; autoanalyze
        # would have caught up, and without it the report was planned as 215,000 index probes (5 s).
        world.raw.run("ANALYZE task")
    raw, now = world.raw, world.rt.now()
    root_path = raw.rows("SELECT path FROM unit WHERE code = ?", (PROVINCE,))[0][0]
    at, cut = raw.time(now), len(root_path) + 5
    by_child = (
        f"SELECT substr(u.path, 1, {cut}) AS prefix, {MEASURES_SQL} FROM task t JOIN unit u ON u.id = t.unit_id "
        "WHERE u.path >= ? AND u.path < ? GROUP BY substr(u.path, 1, " + str(cut) + ")"
    )
    by_def = (
        f"SELECT a.def_id, {MEASURES_SQL} FROM task t JOIN unit u ON u.id = t.unit_id "
        "JOIN assignment a ON a.id = t.assignment_id WHERE u.path >= ? AND u.path < ? GROUP BY a.def_id"
    )
    total = (
        f"SELECT {MEASURES_SQL} FROM task t JOIN unit u ON u.id = t.unit_id WHERE u.path >= ? AND u.path < ?"
    )
    params = (at, root_path, root_path + "~")

    def report() -> dict[str, Any]:
        with read_session(world.engine) as s:
            return rollup_scan(s, now, OPERATOR, PROVINCE)

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
        NAME,
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
    world.rollup_seconds = best
    return doc
