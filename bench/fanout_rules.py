"""The fan-out figure through every applies_to rule, against copying the same rows bare.

Any-of and none-of tags are LIKEs on the tag text, the members comparison reads the JSON
attrs (its type checked first), and `under:` finds ancestors as prefixes of the path: the
same single INSERT … SELECT as `fanout`, with more to decide per unit.
"""

from __future__ import annotations

from typing import Any

from duban.bench.fanout import _bare_fanout
from duban.bench.report import measurement
from duban.bench.tree import PROVINCE
from duban.bench.world import FANOUT_RULES_DEF, BenchOptions, World, clocked

NAME = "fanout_rules"


def steps(opts: BenchOptions) -> int:
    return 2 * opts.repeat


def measure(world: World) -> dict[str, Any]:
    repeat, step = world.opts.repeat, world.step
    engine_runs, base_runs, created = [], [], 0
    for i in range(repeat):
        step(f"fan-out by rules {i + 1}/{repeat}")
        seconds, (assignment_id, created) = clocked(
            lambda: world.assign(str(FANOUT_RULES_DEF["id"]), PROVINCE)
        )
        engine_runs.append(seconds)
        step(f"fan-out by rules baseline {i + 1}/{repeat}")
        base_runs.append(_bare_fanout(world, assignment_id))
    return measurement(
        NAME,
        min(engine_runs),
        "COPY of the same rows" if world.pg else "sqlite3 executemany of the same rows",
        min(base_runs),
        2.0 if world.pg else 1.5,
        2.0,
        tasks=created,
        audit_rows=created,
        runs=engine_runs,
        baseline_runs=base_runs,
    )
