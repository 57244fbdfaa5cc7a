"""The recursive-CTE alternative to the roll-up, reported beside it with no bar (see docs/performance.md)."""

from __future__ import annotations

from typing import Any

from duban.bench.report import measurement
from duban.bench.rollup import MEASURES_SQL, best_seconds
from duban.bench.tree import PROVINCE
from duban.bench.world import BenchOptions, World, clocked

NAME = "rollup_cte"


def steps(opts: BenchOptions) -> int:
    return opts.repeat


def measure(world: World) -> dict[str, Any]:
    """The recursive-CTE alternative, reported beside the roll-up: no bar (see docs/performance.md).

    DESIGN asked the path index to make the report 5x faster than a CTE over parent_id. Both
    reports are dominated by joining the subtree's tasks to their units, so they run within
    tens of percent of each other; what the path index wins is finding the subtree, which is
    measured here too (the subtree's unit ids: one range scan against the recursion).
    """
    rollup_seconds = best_seconds(world)
    repeat, step, raw = world.opts.repeat, world.step, world.raw
    root_id, root_path = raw.rows("SELECT id, path FROM unit WHERE code = ?", (PROVINCE,))[0]
    cte = (
        "WITH RECURSIVE sub(id, top) AS (SELECT id, id FROM unit WHERE parent_id = ? "
        "UNION ALL SELECT u.id, sub.top FROM unit u JOIN sub ON u.parent_id = sub.id) "
        f"SELECT sub.top, {MEASURES_SQL} FROM task t JOIN sub ON sub.id = t.unit_id GROUP BY sub.top"
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
        NAME, rollup_seconds, "recursive CTE over parent_id (same report)", min(runs), None, runs=runs
    )
    doc["cte_slower_by"] = round(min(runs) / rollup_seconds, 3) if rollup_seconds else None
    doc["subtree"] = {
        "path_range_seconds": round(min(by_path), 6),
        "cte_seconds": round(min(by_cte), 6),
        "cte_slower_by": round(min(by_cte) / min(by_path), 3) if min(by_path) else None,
    }
    return doc
