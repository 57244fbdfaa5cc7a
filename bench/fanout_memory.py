"""Peak Python memory of a fan-out to one city and to the whole province: set-based, so flat."""

from __future__ import annotations

import tracemalloc
from typing import Any

from sqlalchemy import select

from duban.bench.tree import PROVINCE
from duban.bench.world import BenchOptions, World
from duban.engine.store.db import read_session
from duban.engine.store.models import Unit

NAME = "fanout_memory"


def steps(opts: BenchOptions) -> int:
    return 2


def measure(world: World) -> dict[str, Any]:
    with read_session(world.engine) as s:
        city = s.scalar(select(Unit.code).where(Unit.level == "municipal").order_by(Unit.code).limit(1))
    out = {}
    for label, scope in (("city", city), ("province", PROVINCE)):
        world.step(f"fan-out memory ({label})")
        tracemalloc.start()
        try:
            _, created = world.assign("bench-fanout", scope)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        out[label] = {"scope": scope, "tasks": created, "peak_bytes": peak}
    return {
        "name": NAME,
        **out,
        "flat": out["province"]["peak_bytes"] <= max(2 * out["city"]["peak_bytes"], 4 << 20),
    }
