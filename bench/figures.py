"""台账 at province scale: one item's measures per child unit of the root against one hand-written GROUP BY.

The engine reads the sums of the form's number in SQL (JSON) over the path index, grouped
by child, and divides the rates from the summed parts; the baseline is the same GROUP BY
written by hand. Setup is `assess.ensure_setup` (half the fan-out done, with numbers).
"""

from __future__ import annotations

from typing import Any

from duban.bench.assess import ensure_setup
from duban.bench.report import measurement
from duban.bench.tree import PROVINCE
from duban.bench.world import BenchOptions, World, clocked
from duban.engine.access.actors import OPERATOR
from duban.engine.assess.ledger import figures
from duban.engine.store.db import read_session

NAME = "figures"


def steps(opts: BenchOptions) -> int:
    return 1 + opts.repeat


def measure(world: World) -> dict[str, Any]:
    ensure_setup(world)
    raw, rt = world.raw, world.rt
    root_path = raw.rows("SELECT path FROM unit WHERE code = ?", (PROVINCE,))[0][0]
    cut = len(root_path) + 5
    number = "CAST(json_extract(t.form, '$.n') AS REAL)" if not world.pg else "(t.form->>'n')::float"
    by_child = (
        f"SELECT substr(u.path, 1, {cut}), COUNT(*), SUM(CASE WHEN t.state = 'done' THEN 1 ELSE 0 END),"
        f" SUM(CASE WHEN t.state = 'done' THEN {number} END)"
        " FROM task t JOIN unit u ON u.id = t.unit_id JOIN assignment a ON a.id = t.assignment_id"
        f" WHERE u.path >= ? AND u.path < ? AND a.def_id = 'bench-fanout' GROUP BY substr(u.path, 1, {cut})"
    )

    def engine() -> dict[str, Any]:
        with read_session(world.engine) as s:
            return figures(s, rt, OPERATOR, "bench-fanout", PROVINCE)

    runs, hand = [], []
    total = None
    for i in range(world.opts.repeat):
        world.step(f"figures {i + 1}/{world.opts.repeat}")
        seconds, doc = clocked(engine)
        runs.append(seconds)
        total = doc["total"]["n"]
        hand.append(clocked(lambda: raw.rows(by_child, (root_path, root_path + "~")))[0])
    return measurement(
        NAME,
        min(runs),
        "one hand-written GROUP BY summing the form's number per child",
        min(hand),
        1.3,
        total=total,
        runs=runs,
        baseline_runs=hand,
    )
