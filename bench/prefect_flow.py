"""`duban bench`'s Prefect figure: the sweep flow against the bare engine sweep over the same due actions.

DESIGN's bar: a flow-wrapped sweep within 1.1x of the bare sweep plus a fixed few seconds per
flow run. The fixed part is measured as a flow run with nothing due; the figure is
`(flow run - that) / bare sweep`. The flow runs in this process against a temporary Prefect
server (Prefect's own test harness), with one sweeper, so both sides do the same work in one
interpreter; Prefect is imported only when the figure runs.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from duban.bench.report import measurement
from duban.bench.world import BenchOptions, World, clocked, runtime_at
from duban.engine.followup.sweep import sweep_due

NAME = "prefect"
BAR = 1.1
FIXED_BAR_SECONDS = 5.0  # "a fixed few seconds per flow run"


def steps(opts: BenchOptions) -> int:
    return 1


def available() -> bool:
    """Prefect is an optional dependency; without it the figure is left out of a full run."""
    return importlib.util.find_spec("prefect") is not None


def measure(world: World) -> dict[str, Any]:
    """Run the sweep flow and the bare sweep alternately over the bench's due set; one measurement."""
    from prefect.testing.utilities import prefect_test_harness

    from duban.flows.prefect_flows import sweep_flow

    world.due()  # made before the flow's step, so the idle runs find nothing due
    world.step("prefect: the sweep flow against the bare sweep")
    idle_at = world.rt.now().isoformat()  # the bench's clock: nothing is due then
    flows, bares, fixed = [], [], []
    swept: dict[str, int] = {}
    with prefect_test_harness(server_startup_timeout=120):
        sweep_flow(db_url=world.url, now=idle_at, sweepers=1)  # warm-up: imports, the server's first run
        for _ in range(world.opts.repeat):
            fixed.append(clocked(lambda: sweep_flow(db_url=world.url, now=idle_at, sweepers=1))[0])
            at = world.redue()
            bares.append(clocked(lambda at=at: sweep_due(world.engine, runtime_at(at)))[0])
            at = world.redue()
            seconds, swept = clocked(
                lambda at=at: sweep_flow(db_url=world.url, now=at.isoformat(), sweepers=1)
            )
            flows.append(seconds)
    overhead = min(fixed)
    doc = measurement(
        NAME,
        max(min(flows) - overhead, 1e-6),
        "the engine's sweep_due, no flow",
        min(bares),
        BAR,
        flow_seconds=min(flows),
        fixed_seconds=round(overhead, 4),
        fixed_bar_seconds=FIXED_BAR_SECONDS,
        reminders_sent=swept.get("reminders_sent"),
        runs=flows,
        baseline_runs=bares,
        fixed_runs=fixed,
    )
    doc["pass"] = doc["pass"] and overhead <= FIXED_BAR_SECONDS
    return doc
