"""Reports limited to a period: a yearly item's 2026 and 2027 tasks are not counted together."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from duban.cli.main import app
from duban.engine.access.actors import OPERATOR
from duban.engine.errors import InvalidInput
from duban.engine.language.loader import load_paths
from duban.engine.org.units import import_units
from duban.engine.overview.reports import rollup
from duban.engine.store.db import read_session, write_session
from duban.engine.work import fanout
from duban.engine.work.catalog import store_definitions

FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_a_report_takes_a_period(db: Engine, db_url: str, replay) -> None:  # type: ignore[no-untyped-def]
    with write_session(db) as s:
        now = replay.rt.now()
        import_units(s, now, OPERATOR, FIXTURES / "tree.csv")
        store_definitions(s, now, OPERATOR, load_paths([FIXTURES / "defs"]))
        fanout.assign_definition(s, replay.rt, OPERATOR, "test-congress", "C01")
    replay.at("2027-01-05T10:00")
    swept = CliRunner().invoke(app, ["--db", db_url, "--now", "2027-01-05T10:00+08:00", "sweep", "--json"])
    assert swept.exit_code == 0, swept.output
    doc = json.loads(swept.output)
    assert doc["tasks_created"] == 4
    assert [(p["definition_id"], p["period"], p["created"]) for p in doc["periods_opened"]] == [
        ("test-congress", "2027", 4)
    ]
    text = CliRunner().invoke(app, ["--db", db_url, "--now", "2028-01-03T10:00+08:00", "sweep"]).output
    assert "opened test-congress 2028: 4 tasks" in text
    with read_session(db) as s:
        both = rollup(s, replay.rt.now(), OPERATOR, "C01", "test-congress")
        y2026 = rollup(s, replay.rt.now(), OPERATOR, "C01", "test-congress", "2026", replay.rt.tz)
        y2027 = rollup(s, replay.rt.now(), OPERATOR, "C01", "test-congress", "2027", replay.rt.tz)
        q1 = rollup(s, replay.rt.now(), OPERATOR, "C01", "test-congress", "2027-Q1", replay.rt.tz)
        with pytest.raises(InvalidInput, match="period"):
            rollup(s, replay.rt.now(), OPERATOR, "C01", None, "2026-13", replay.rt.tz)
    assert both["total"]["tasks"] == 12
    assert (y2026["total"]["tasks"], y2026["period"]) == (4, "2026")
    assert y2027["total"]["tasks"] == 4 and q1["total"]["tasks"] == 4
    # 2026's tasks are all late (due 06-30); 2027's are not yet
    assert (y2026["total"]["overdue"], y2027["total"]["overdue"]) == (4, 0)
    out = CliRunner().invoke(
        app,
        ["--db", db_url, "--now", "2027-01-05T10:00+08:00", "report", "C01", "--period", "2026", "--json"],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["total"]["tasks"] == 4
    bad = CliRunner().invoke(app, ["--db", db_url, "report", "C01", "--period", "last-year"])
    assert bad.exit_code != 0 and "period" in bad.output and "Traceback" not in bad.output
