"""考核 at province scale: the ranking of every unit below the root against the same numbers read by hand.

Setup (not timed, shared with `figures`): half of the province's fan-out tasks are made done
with a number in their form, a new version of the fan-out definition declares measures over
it, and a scheme scores it. Then `ranking()` of the province root (every unit below it scored,
with its totals, ranked per level; what the ranking page and the API read) runs against two
hand-written readings of the same numbers, rows fetched, and the faster is the baseline:

- one statement: per unit and item its tasks, done, late, missing and sent-back counts (the
  task history read once), with the unit's code, name, level and parent — the engine's own
  statement, written by hand — plus the quality and bonus points;
- separate statements, as the figure was first measured: tasks by unit and item with their
  last submission, rejections, awards, and every unit of the subtree.

On SQLite the first is faster, on PostgreSQL the second. One unit's score card (a ranking, for
the rank, and that unit's breakdown) is reported beside the ratio.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import select

from duban.bench.report import measurement
from duban.bench.tree import PROVINCE
from duban.bench.world import FANOUT_DEF, T0, BenchOptions, World, clocked
from duban.engine.access.actors import OPERATOR
from duban.engine.assess.scheme import Scheme
from duban.engine.assess.scoring import breakdown, ranking, year_window
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
    start, end = (raw.time(t) for t in year_window(rt, SCHEME.year))
    below = (root_path, root_path + "~")
    by_unit = (
        "SELECT s.unit_id, s.def_id, s.n, s.done, s.late, s.missing, s.rejections, u.code, u.name, u.level, p.code"
        " FROM (SELECT t.unit_id, a.def_id, COUNT(*) AS n, SUM(CASE WHEN t.state = 'done' THEN 1 ELSE 0 END) AS done,"
        " SUM(CASE WHEN t.state = 'done' AND m.at > t.overdue_at THEN 1 ELSE 0 END) AS late,"
        " SUM(CASE WHEN t.state = 'open' AND t.overdue_at <= ? THEN 1 ELSE 0 END) AS missing,"
        " SUM(COALESCE(m.rejections, 0)) AS rejections"
        " FROM task t JOIN unit u ON u.id = t.unit_id JOIN assignment a ON a.id = t.assignment_id"
        " LEFT JOIN (SELECT task_id, MAX(CASE WHEN action = 'task.submitted' THEN at END) AS at,"
        " CAST(SUM(CASE WHEN action = 'task.rejected' THEN 1 ELSE 0 END) AS INTEGER) AS rejections FROM audit"
        " WHERE action IN ('task.submitted', 'task.rejected') GROUP BY task_id) m ON m.task_id = t.id"
        " WHERE u.path > ? AND u.path < ? AND a.def_id IN ('bench-fanout') AND t.due_at >= ? AND t.due_at < ?"
        " AND t.state IN ('open', 'submitted', 'done') GROUP BY t.unit_id, a.def_id) s"
        " JOIN unit u ON u.id = s.unit_id LEFT JOIN unit p ON p.id = u.parent_id"
    )
    quality = (
        "SELECT w.unit_id, w.item, SUM(w.points) FROM score_award w JOIN unit u ON u.id = w.unit_id"
        " WHERE w.scheme_id = 'bench-scheme' AND w.year = ? AND w.kind = 'quality' AND u.path > ? AND u.path < ?"
        " GROUP BY w.unit_id, w.item"
    )
    bonus = (
        "SELECT w.unit_id, w.item, w.points FROM score_award w JOIN unit u ON u.id = w.unit_id"
        " WHERE w.scheme_id = 'bench-scheme' AND w.year = ? AND w.kind = 'bonus' AND u.path > ? AND u.path < ?"
        " ORDER BY w.id"
    )
    old_by_unit = (
        "SELECT t.unit_id, a.def_id, COUNT(*), SUM(CASE WHEN t.state = 'done' THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN t.state = 'done' AND s.at > t.overdue_at THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN t.state = 'open' AND t.overdue_at <= ? THEN 1 ELSE 0 END)"
        " FROM task t JOIN unit u ON u.id = t.unit_id JOIN assignment a ON a.id = t.assignment_id"
        " LEFT JOIN (SELECT task_id, MAX(at) AS at FROM audit WHERE action = 'task.submitted' GROUP BY task_id) s"
        " ON s.task_id = t.id"
        " WHERE u.path > ? AND u.path < ? AND a.def_id IN ('bench-fanout')"
        " AND t.state IN ('open', 'submitted', 'done') GROUP BY t.unit_id, a.def_id"
    )
    old_rejected = (
        "SELECT t.unit_id, a.def_id, COUNT(*) FROM audit x JOIN task t ON t.id = x.task_id"
        " JOIN unit u ON u.id = t.unit_id JOIN assignment a ON a.id = t.assignment_id"
        " WHERE x.action = 'task.rejected' AND u.path > ? AND u.path < ? GROUP BY t.unit_id, a.def_id"
    )
    old_awarded = (
        "SELECT w.unit_id, w.item, SUM(w.points) FROM score_award w JOIN unit u ON u.id = w.unit_id"
        " WHERE w.scheme_id = 'bench-scheme' AND u.path > ? AND u.path < ? GROUP BY w.unit_id, w.item"
    )
    old_units = "SELECT id, code, name, level, parent_id FROM unit u WHERE u.path > ? AND u.path < ?"

    def engine_ranking() -> dict[str, Any]:
        with read_session(world.engine) as s:
            root = s.execute(select(Unit).where(Unit.code == PROVINCE)).scalar_one()
            return ranking(s, rt, SCHEME, root)

    def hand() -> Any:
        return (
            raw.rows(by_unit, (at, *below, start, end)),
            raw.rows(quality, (SCHEME.year, *below)),
            raw.rows(bonus, (SCHEME.year, *below)),
        )

    def old_hand() -> Any:
        return (
            raw.rows(old_by_unit, (at, *below)),
            raw.rows(old_rejected, below),
            raw.rows(old_awarded, below),
            raw.rows(old_units, below),
        )

    def one_card(code: str) -> Any:
        with read_session(world.engine) as s:
            root = s.execute(select(Unit).where(Unit.code == PROVINCE)).scalar_one()
            unit = s.execute(select(Unit).where(Unit.code == code)).scalar_one()
            return ranking(s, rt, SCHEME, root), breakdown(s, rt, SCHEME, root, unit)

    runs, hand_runs, old_runs, card_runs = [], [], [], []
    scored = 0
    for i in range(world.opts.repeat):
        world.step(f"assessment {i + 1}/{world.opts.repeat}")
        seconds, doc = clocked(engine_ranking)
        runs.append(seconds)
        scored = sum(len(v) for v in doc["levels"].values())
        someone = doc["levels"]["grassroots"][-1]["code"]
        hand_runs.append(clocked(hand)[0])
        old_runs.append(clocked(old_hand)[0])
        card_runs.append(clocked(partial(one_card, someone))[0])
    # The faster of the two hand-written readings is the baseline: which one wins depends on the database.
    fastest = min(min(hand_runs), min(old_runs))
    return measurement(
        NAME,
        min(runs),
        "the faster of two hand-written readings of the same numbers, rows fetched: one GROUP BY per unit"
        " and item with the unit and its parent; or the separate GROUP BYs (tasks, rejections, awards, units)",
        fastest,
        1.3,
        units_scored=scored,
        runs=runs,
        one_statement_seconds=round(min(hand_runs), 6),
        one_statement_runs=hand_runs,
        separate_statements_seconds=round(min(old_runs), 6),
        separate_statements_runs=old_runs,
        card_seconds=round(min(card_runs), 6),
    )
