"""The fan-out figure: one assignment to every branch of the province, against copying the same rows bare.

It always runs: its fan-outs fill the task table that the idle sweep and the roll-up read.
"""

from __future__ import annotations

from typing import Any

from duban.bench.report import measurement
from duban.bench.tree import PROVINCE
from duban.bench.world import BenchOptions, World, clocked

NAME = "fanout"


def steps(opts: BenchOptions) -> int:
    return 1 + 2 * opts.repeat


def _bare_fanout(world: World, assignment_id: int) -> float:
    """Copy one fan-out's rows into the baseline database with the bare driver; returns the timed seconds."""
    raw, base = world.raw, world.base
    assert base is not None
    cols = list(raw.rows("SELECT * FROM assignment WHERE id = ?", (assignment_id,)))
    marks = ",".join("?" * len(cols[0]))
    base.run(f"INSERT INTO assignment VALUES ({marks})", cols[0])
    task_q = f"SELECT * FROM task WHERE assignment_id = {int(assignment_id)} ORDER BY id"
    audit_q = f"SELECT * FROM audit WHERE assignment_id = {int(assignment_id)} AND action = 'task.created' ORDER BY id"
    if world.pg:
        task_data, audit_data = raw.copy_out(task_q), raw.copy_out(audit_q)

        def load() -> None:
            with base.txn():
                base.copy_in("task", task_data)
                base.copy_in("audit", audit_data)

        return clocked(load)[0]
    task_rows, audit_rows = raw.rows(task_q), raw.rows(audit_q)
    task_sql = f"INSERT INTO task VALUES ({','.join('?' * len(task_rows[0]))})"
    audit_sql = f"INSERT INTO audit VALUES ({','.join('?' * len(audit_rows[0]))})"

    def insert_all() -> None:
        with base.txn():
            base.many(task_sql, task_rows)
            base.many(audit_sql, audit_rows)

    return clocked(insert_all)[0]


def fanout_figure(world: World, name: str, def_id: str, label: str) -> tuple[dict[str, Any], list[int]]:
    """--repeat fan-outs of `def_id` to the province, each against a bare copy of its rows; the figure and
    the assignments made."""
    repeat, step = world.opts.repeat, world.step
    engine_runs, base_runs, made, created = [], [], [], 0
    for i in range(repeat):
        step(f"{label} {i + 1}/{repeat}")
        seconds, (assignment_id, created) = clocked(lambda: world.assign(def_id, PROVINCE))
        made.append(assignment_id)
        engine_runs.append(seconds)
        step(f"{label} baseline {i + 1}/{repeat}")
        base_runs.append(_bare_fanout(world, assignment_id))
    doc = measurement(
        name,
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
    return doc, made


def measure(world: World) -> dict[str, Any]:
    world.step("fan-out")
    doc, made = fanout_figure(world, NAME, "bench-fanout", "fan-out")
    world.fanout_assignments.extend(made)
    world.fanout_seconds = min(doc["runs"])
    return doc
