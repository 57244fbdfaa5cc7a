"""Plans on both databases: a whole plan assigned in one transaction or not at all, and reported per plan."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from duban.cli.main import app
from duban.engine.access.actors import OPERATOR
from duban.engine.errors import InvalidInput
from duban.engine.language.loader import load_paths, parse_definition
from duban.engine.language.plans import Plan, load_plans
from duban.engine.org.units import import_units
from duban.engine.overview.reports import rollup
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Assignment, Audit, Task
from duban.engine.work import fanout, plans
from duban.engine.work.catalog import store_definitions
from duban.seed import seed_plans

FIXTURES = Path(__file__).parent.parent / "fixtures"
# A one-off item whose date the plan leaves to the assigner (no due: of its own).
CHOSEN = "id: test-chosen\ntitle: 择期进行评选表彰\ntrigger: assigned\napplies_to: {levels: [county]}\n"
PLAN = Plan(
    id="test-plan",
    title="测试计划",
    source_document="测试文书",
    year=2026,
    items=["test-congress", "test-plaque", "test-chosen"],
)


@pytest.fixture
def world(db: Engine, replay) -> Engine:  # type: ignore[no-untyped-def]
    replay.at("2026-03-12T10:00")
    with write_session(db) as s:
        now = replay.rt.now()
        import_units(s, now, OPERATOR, FIXTURES / "tree.csv")
        loaded = [*load_paths([FIXTURES / "defs"]), parse_definition(CHOSEN, "chosen.yaml")]
        store_definitions(s, now, OPERATOR, loaded)
    return db


def counts(db: Engine) -> tuple[int, int, int]:
    with read_session(db) as s:
        return (
            s.scalar(select(func.count()).select_from(Assignment)) or 0,
            s.scalar(select(func.count()).select_from(Task)) or 0,
            s.scalar(select(func.count()).select_from(Audit).where(Audit.action != "definition.loaded")) or 0,
        )


def test_a_plan_is_assigned_whole_in_one_step(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    before = counts(world)
    with write_session(world) as s:
        result = plans.assign_plan(s, replay.rt, OPERATOR, PLAN, "C01", due=date(2026, 5, 29))
    assert [i["definition"] for i in result.items] == PLAN.items
    # congress: 4 grassroots; plaque: the 2 non-public grassroots; chosen: the 2 counties.
    assert {i["definition"]: i["created"] for i in result.items} == {
        "test-congress": 4,
        "test-plaque": 2,
        "test-chosen": 2,
    }
    with read_session(world) as s:
        rows = s.execute(select(Assignment.def_id, Assignment.plan_id, Assignment.due_override)).all()
        chosen_due = s.scalars(
            select(Task.due_at).join(Assignment).where(Assignment.def_id == "test-chosen")
        ).all()
        logged = s.scalars(select(Audit.payload).where(Audit.action == "plan.assigned")).all()
    # The assigner's date goes to the item that leaves the date open; the others keep their own.
    assert sorted(rows) == [
        ("test-chosen", "test-plan", date(2026, 5, 29)),
        ("test-congress", "test-plan", None),
        ("test-plaque", "test-plan", None),
    ]
    assert {replay.rt.local(d).date() for d in chosen_due} == {date(2026, 5, 29)}
    assert [p["plan"] for p in logged] == ["test-plan"] and logged[0]["created"] == 8
    assert counts(world)[1] == before[1] + 8


def test_one_refused_item_refuses_the_whole_plan_and_says_which(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    before = counts(world)
    broken = PLAN.model_copy(update={"items": [*PLAN.items, "no-such-item"]})
    with pytest.raises(InvalidInput) as refused, write_session(world) as s:
        # No --due: test-chosen has no date; no-such-item was never loaded.
        plans.assign_plan(s, replay.rt, OPERATOR, broken, "C01")
    where = [p.where for p in refused.value.problems]
    assert where == ["test-plan: test-chosen", "test-plan: no-such-item"]
    assert "not found" in refused.value.problems[1].message
    # All or nothing: the items that could be assigned were not.
    assert counts(world) == before


def test_the_report_rolls_up_only_the_plans_assignments(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    with write_session(world) as s:
        plans.assign_plan(s, replay.rt, OPERATOR, PLAN, "C01", due=date(2026, 5, 29))
        # The same item assigned again outside the plan must not count in the plan's report.
        fanout.assign_definition(s, replay.rt, OPERATOR, "test-plaque", "K02")
    with read_session(world) as s:
        whole = rollup(s, replay.rt.now(), OPERATOR, "C01")
        planned = rollup(s, replay.rt.now(), OPERATOR, "C01", plan="test-plan")
    assert whole["total"]["tasks"] == 9
    assert planned["total"]["tasks"] == 8 and planned["plan"] == "test-plan"
    assert {d["definition_id"]: d["tasks"] for d in planned["definitions"]} == {
        "test-congress": 4,
        "test-plaque": 2,
        "test-chosen": 2,
    }


def test_the_seed_ships_its_three_documents_as_three_plans() -> None:
    found = {p.plan.id: p.plan for p in load_plans(seed_plans())}
    assert set(found) == {"city-union-opinions", "petition-bureau-union-plan", "college-union-plan"}
    items = [i for p in found.values() for i in p.items]
    assert len(items) == len(set(items)) == len(load_paths([seed_plans().parent]))


@pytest.mark.sqlite_only
def test_plans_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def duban(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["--db", url, "--now", "2026-03-12T10:00+08:00", *args])

    assert duban("init").exit_code == 0
    assert duban("units", "import", str(FIXTURES / "tree.csv")).exit_code == 0
    assert duban("definitions", "load", "--builtin").exit_code == 0
    listed = json.loads(duban("plans", "list", "--json").stdout)
    assert {p["id"]: len(p["items"]) for p in listed}["petition-bureau-union-plan"] == 2
    result = duban("assign", "--plan", "petition-bureau-union-plan", "--scope", "C01", "--json")
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert [i["definition"] for i in done["items"]] == ["political-study", "union-law-study"]
    report = json.loads(duban("report", "C01", "--plan", "petition-bureau-union-plan", "--json").stdout)
    assert report["total"]["tasks"] == done["created"] > 0
    both = duban("assign", "test-congress", "--plan", "college-union-plan", "--scope", "C01")
    assert both.exit_code == 2


def test_the_whole_opinions_assigned_on_the_college_plans_date_is_born_on_time(db: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    """The 意见 assigned whole on 3月12日: nothing overdue, nothing escalated by the first sweeps."""
    from duban.engine.followup.sweep import sweep_due

    replay.at("2026-03-12T10:00")
    with write_session(db) as s:
        now = replay.rt.now()
        import_units(s, now, OPERATOR, FIXTURES / "tree.csv")
        store_definitions(s, now, OPERATOR, load_paths([seed_plans().parent]))
    opinions = next(p.plan for p in load_plans(seed_plans()) if p.plan.id == "city-union-opinions")
    with write_session(db) as s:
        result = plans.assign_plan(s, replay.rt, OPERATOR, opinions, "C01", due=date(2026, 12, 15))
    assert len(result.items) == len(opinions.items) and sum(i["created"] for i in result.items) > 0
    for at in ("2026-03-12T10:05", "2026-03-13T09:30"):
        replay.at(at)
        swept = sweep_due(db, replay.rt)
        assert swept.escalations == 0, at
    with read_session(db) as s:
        overdue = s.scalar(select(func.count()).select_from(Task).where(Task.overdue_at <= replay.rt.now()))
    assert overdue == 0
