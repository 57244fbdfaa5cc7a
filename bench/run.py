"""The whole run: build the world, run each chosen measure in a fixed order, assemble the document.

The order matters: the fan-outs fill the task table the idle sweep and the roll-up read; the due
set's sweeps write the notices that delivery sends. A measure that needs another's work asks
for it (`ensure_swept`, `best_seconds`), so any subset runs on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from duban.bench import (
    assess,
    dashboard,
    delivery,
    fanout,
    fanout_memory,
    fanout_rules,
    figures,
    http,
    prefect_flow,
    rollup,
    rollup_cte,
    sweep_concurrent,
    sweep_due,
    sweep_idle,
)
from duban.bench.world import SETUP_STEPS, BenchOptions, Progress, Steps, fill_world, open_world
from duban.engine.errors import InvalidInput, Problem


@dataclass(frozen=True)
class Measure:
    """One figure: its module's `measure(world)`, its progress steps, and whether it can run here."""

    name: str
    measure: Callable[[Any], dict[str, Any]]
    steps: Callable[[BenchOptions], int]
    available: Callable[[], bool] = lambda: True


def _of(module: ModuleType) -> Measure:
    return Measure(module.NAME, module.measure, module.steps, getattr(module, "available", lambda: True))


ORDER = tuple(
    _of(m)
    for m in (
        fanout,
        fanout_rules,
        fanout_memory,
        sweep_idle,
        sweep_due,
        sweep_concurrent,
        rollup,
        rollup_cte,
        dashboard,
        delivery,
        http,
        prefect_flow,
        assess,
        figures,
    )
)
MEASURES = tuple(m.name for m in ORDER)
# Reported apart from the ratio table: it has no baseline, only a flatness check.
APART = frozenset({fanout_memory.NAME})


def chosen(opts: BenchOptions) -> list[Measure]:
    """The measures to run: --only's, or every one that can run here; an unknown name is refused."""
    if not opts.only:
        return [m for m in ORDER if m.available()]
    unknown = opts.only - set(MEASURES)
    if unknown:
        raise InvalidInput(
            [
                Problem(
                    "bench",
                    "--only",
                    f"unknown measurement {', '.join(sorted(unknown))}; one of {', '.join(MEASURES)}",
                )
            ]
        )
    return [m for m in ORDER if m.name in opts.only]


def run_bench(opts: BenchOptions, progress: Progress | None = None) -> dict[str, Any]:
    """Build a province-sized tree, measure every chosen path against its baseline; one JSON-able document."""
    wanted = chosen(opts)
    names = {m.name for m in wanted}
    # The fan-out always runs (it fills the task table); it is reported only when chosen.
    runs = wanted if fanout.NAME in names else [_of(fanout), *wanted]
    step = Steps(SETUP_STEPS + sum(m.steps(opts) for m in runs), progress)
    world = open_world(opts, step)
    kind = world.kind
    doc: dict[str, Any] = {"database": kind, "units": opts.units, "repeat": opts.repeat, "measurements": []}
    try:
        fill_world(world, doc)
        for m in runs:
            result = m.measure(world)
            if m.name in APART:
                doc[m.name] = result
            elif m.name in names:
                doc["measurements"].append(result)
        doc["tasks_in_table"] = world.raw.rows("SELECT COUNT(*) FROM task")[0][0]
        doc["passed"] = all(m["pass"] for m in doc["measurements"])
        return doc
    finally:
        world.close()
