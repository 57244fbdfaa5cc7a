"""考核 at province scale: the assessment of every unit below the root against the same GROUP BYs written by hand.

Setup (not timed, shared with `figures`): half of the province's fan-out tasks are made done
with a number in their form, a new version of the fan-out definition declares measures over
it, and a scheme scores it. Then `score()` of the province root (every unit below it, ranked
per level, with its breakdown) runs against the same GROUP BYs written by hand (tasks by unit
and item with their last submission, rejections, awards, the units) with their rows fetched.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from duban.bench.report import measurement
from duban.bench.tree import PROVINCE
from duban.bench.world import FANOUT_DEF, T0, BenchOptions, World, clocked
from duban.engine.access.actors import OPERATOR
from duban.engine.assess.scheme import Scheme
from duban.engine.assess.scoring import score
from duban.engine.assess.versions import store_schemes
from duban.engine.language.model import Definition
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Unit
from duban.engine.work.catalog import store_definitions

NAME = "assess"
SCHEME = Scheme.model_validate(
    {
        "id": "bench-scheme",
        "title": "基准：考核细则",
        "year": T0.year,
        "items": [{"definition": "bench-fanout", "points": 10, "late": -1, "missing": -2, "rejected": -1}],
    }
)


def steps(opts: BenchOptions) -> int:
    return 1 + opts.repeat


def ensure_setup(world: World) -> None:
    """Done tasks with numbers, measures and the scheme; once per world."""
    if world.raw.rows("SELECT COUNT(*) FROM scheme_version WHERE scheme_id = 'bench-scheme'")[0][0]:
        return
    world.step("assess setup: half the fan-out done, measures and a scheme")
    from duban.engine.language.loader import LoadedDefinition, digest_of

    body = {
        **FANOUT_DEF,
        "completion": {"form": {"n": {"type": "integer", "min": 0}}},
        "measures": {
            "n": {"label": "数量", "sum": "n"},
            "rate": {"label": "完成率", "rate": ["done", "tasks"]},
        },
    }
    defn = Definition.model_validate(body)
    with write_session(world.engine) as s:
        store_definitions(s, world.rt.now(), OPERATOR, [LoadedDefinition(defn, "bench", "", digest_of(defn))])
        store_schemes(s, world.rt.now(), OPERATOR, [(SCHEME, "bench", "")])
    # Remainders by integer division: a bare % would be a placeholder to psycopg.
    seven = "t.id - (t.id / 7) * 7"
    number = f"json_object('n', {seven})" if not world.pg else f"jsonb_build_object('n', {seven})::json"
    world.raw.run(
        "UPDATE task SET state = 'done', finished_at = overdue_at, form = "
        + number.replace("t.id", "task.id")
        + " WHERE assignment_id IN (SELECT id FROM assignment WHERE def_id = 'bench-fanout') AND id - (id / 2) * 2 = 0"
    )
    if world.maintained:
        world.raw.run("ANALYZE task")


def measure(world: World) -> dict[str, Any]:
    ensure_setup(world)
    raw, rt = world.raw, world.rt
    root_path = raw.rows("SELECT path FROM unit WHERE code = ?", (PROVINCE,))[0][0]
    at = raw.time(rt.now())
    below = (root_path, root_path + "~")
    by_unit = (
        "SELECT t.unit_id, a.def_id, COUNT(*), SUM(CASE WHEN t.state = 'done' THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN t.state = 'done' AND s.at > t.overdue_at THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN t.state = 'open' AND t.overdue_at <= ? THEN 1 ELSE 0 END)"
        " FROM task t JOIN unit u ON u.id = t.unit_id JOIN assignment a ON a.id = t.assignment_id"
        " LEFT JOIN (SELECT task_id, MAX(at) AS at FROM audit WHERE action = 'task.submitted' GROUP BY task_id) s"
        " ON s.task_id = t.id"
        " WHERE u.path > ? AND u.path < ? AND a.def_id IN ('bench-fanout')"
        " AND t.state IN ('open', 'submitted', 'done') GROUP BY t.unit_id, a.def_id"
    )
    rejected = (
        "SELECT t.unit_id, a.def_id, COUNT(*) FROM audit x JOIN task t ON t.id = x.task_id"
        " JOIN unit u ON u.id = t.unit_id JOIN assignment a ON a.id = t.assignment_id"
        " WHERE x.action = 'task.rejected' AND u.path > ? AND u.path < ? GROUP BY t.unit_id, a.def_id"
    )
    awarded = (
        "SELECT w.unit_id, w.item, SUM(w.points) FROM score_award w JOIN unit u ON u.id = w.unit_id"
        " WHERE w.scheme_id = 'bench-scheme' AND u.path > ? AND u.path < ? GROUP BY w.unit_id, w.item"
    )
    units_q = "SELECT id, code, name, level, parent_id FROM unit u WHERE u.path > ? AND u.path < ?"

    def engine_score() -> dict[str, Any]:
        with read_session(world.engine) as s:
            root = s.execute(select(Unit).where(Unit.code == PROVINCE)).scalar_one()
            return score(s, rt, SCHEME, root)

    def hand_score() -> Any:
        return (
            raw.rows(by_unit, (at, *below)),
            raw.rows(rejected, below),
            raw.rows(awarded, below),
            raw.rows(units_q, below),
        )

    score_runs, hand_runs = [], []
    scored = 0
    for i in range(world.opts.repeat):
        world.step(f"assessment {i + 1}/{world.opts.repeat}")
        seconds, doc = clocked(engine_score)
        score_runs.append(seconds)
        scored = sum(len(v) for v in doc["levels"].values())
        hand_runs.append(clocked(hand_score)[0])
    return measurement(
        NAME,
        min(score_runs),
        "the same GROUP BYs written by hand, rows fetched",
        min(hand_runs),
        1.3,
        units_scored=scored,
        runs=score_runs,
        baseline_runs=hand_runs,
    )
