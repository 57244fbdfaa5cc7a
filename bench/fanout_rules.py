"""The fan-out figure through every applies_to rule, against copying the same rows bare.

Any-of and none-of tags are LIKEs on the tag text, the members comparison reads the JSON
attrs (its type checked first), and `under:` finds ancestors as prefixes of the path: the
same single INSERT … SELECT as `fanout`, with more to decide per unit.
"""

from __future__ import annotations

from typing import Any

from duban.bench.fanout import fanout_figure
from duban.bench.world import FANOUT_RULES_DEF, BenchOptions, World

NAME = "fanout_rules"


def steps(opts: BenchOptions) -> int:
    return 2 * opts.repeat


def measure(world: World) -> dict[str, Any]:
    return fanout_figure(world, NAME, str(FANOUT_RULES_DEF["id"]), "fan-out by rules")[0]
