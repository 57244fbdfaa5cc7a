"""`duban bench`'s Prefect figure: the sweep flow against the bare engine sweep over the same due actions.

DESIGN's bar: a flow-wrapped sweep within 1.1x of the bare sweep plus a fixed few seconds per
flow run. The fixed part is measured as a flow run with nothing due; the figure is
`(flow run - that) / bare sweep`. The flow runs in this process against a temporary Prefect
server (Prefect's own test harness), with one sweeper, so both sides do the same work in one
interpreter; the engine may not import Prefect, so `cli/bench_cmd.py` passes this in.
"""

from __future__ import annotations

from typing import Any

from duban.bench import BenchHandle, measurement
from duban.bench.core import clocked
from duban.engine.followup.sweep import sweep_due

BAR = 1.1
FIXED_BAR_SECONDS = 5.0  # "a fixed few seconds per flow run"


def measure(handle: BenchHandle) -> dict[str, Any]:
    """Run the sweep flow and the bare sweep alternately over the bench's due set; one measurement."""
    from prefect.testing.utilities import prefect_test_harness

    from duban.flows.prefect_flows import sweep_flow

    assert handle.redue is not None, "the Prefect figure needs the bench's due set"
    idle_at = handle.rt.now().isoformat()  # the bench's clock: nothing is due then
    flows, bares, fixed = [], [], []
    swept: dict[str, int] = {}
    with prefect_test_harness(server_startup_timeout=120):
        sweep_flow(db_url=handle.url, now=idle_at, sweepers=1)  # warm-up: imports, the server's first run
        for _ in range(handle.repeat):
            fixed.append(clocked(lambda: sweep_flow(db_url=handle.url, now=idle_at, sweepers=1))[0])
            at = handle.redue()
            bares.append(clocked(lambda at=at: sweep_due(handle.engine, handle.at(at)))[0])
            at = handle.redue()
            seconds, swept = clocked(
                lambda at=at: sweep_flow(db_url=handle.url, now=at.isoformat(), sweepers=1)
            )
            flows.append(seconds)
    overhead = min(fixed)
    doc = measurement(
        "prefect",
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
