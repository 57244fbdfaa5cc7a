"""考核 and 台账: scores with their breakdown, ranking, freezing, and ledgers that match a hand count — both databases."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select

from duban.engine.access.accounts import add_account
from duban.engine.access.actors import OPERATOR, actor_for
from duban.engine.assess import assessment, ledger
from duban.engine.assess.scheme import load_scheme_paths
from duban.engine.assess.versions import store_schemes
from duban.engine.errors import Conflict, DefinitionError, Forbidden, InvalidInput, NotInScope
from duban.engine.language.loader import load_paths
from duban.engine.org.units import import_units
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Audit
from duban.engine.work import lifecycle
from duban.engine.work.catalog import store_definitions
from tests.support.assess_world import REPORT, SCHEME, WARMTH, spring

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def year(db: Engine, replay: Any, tmp_path: Path) -> dict[str, int]:
    """A county, a township and two branches through a spring of work on two scored items
    (tests/support/assess_world.py), its definitions and scheme loaded from files."""
    defs, schemes = tmp_path / "defs", tmp_path / "schemes"
    defs.mkdir()
    schemes.mkdir()
    (defs / "warmth.yaml").write_text(WARMTH, encoding="utf-8")
    (defs / "report.yaml").write_text(REPORT, encoding="utf-8")
    (schemes / "scheme.yaml").write_text(SCHEME, encoding="utf-8")
    rt = replay.rt
    with write_session(db) as s:
        import_units(s, rt.now(), OPERATOR, FIXTURES / "tree.csv")
        store_definitions(s, rt.now(), OPERATOR, load_paths([defs]))
        assert store_schemes(s, rt.now(), OPERATOR, load_scheme_paths([schemes]))[0]["status"] == "new"
        for name, code in (
            ("k01-admin", "K01"),
            ("t01-admin", "T01"),
            ("g01-staff", "G01"),
            ("g02-staff", "G02"),
        ):
            add_account(s, rt.now(), OPERATOR, name, code, name.split("-")[1], "password123")
    tasks = spring(db, replay)
    return {"report_g02": tasks["report"]["G02"], "warmth_g01": tasks["warmth"]["G01"]}


def _row(result: dict[str, Any], code: str) -> dict[str, Any]:
    return next(r for r in result["levels"]["grassroots"] if r["code"] == code)


def test_scores_ranks_and_breakdown_match_a_hand_count(db: Engine, replay: Any, year: dict[str, int]) -> None:
    with read_session(db) as s:
        k01 = actor_for(s, "k01-admin")
        result = assessment.assess(s, replay.rt, k01, "test-scheme", "K01")
        card = assessment.unit_card(s, replay.rt, k01, "test-scheme", "K01", "G02")
    g01, g02 = _row(result, "G01"), _row(result, "G02")
    # G01: warmth (60 − 10) × 1/1 + quality 8 = 58; report 40; 98 of 100, +3 bonus.
    assert (g01["score"], g01["points"], g01["bonus"], g01["normalized"], g01["rank"]) == (98, 100, 3, 101, 1)
    # G02: warmth 50 + 6 − 5 (late) − 2 (sent back) = 49; report missing: 0 − 20 floors at 0.
    assert "items" not in g02 and (card["card"]["score"], card["card"]["rank"], card["ranked"]) == (49, 2, 2)
    g02 = card["card"]
    warmth = next(i for i in g02["items"] if i["definition"] == "test-warmth")
    assert (warmth["late"], warmth["rejections"], warmth["quality"], warmth["score"]) == (1, 1, 6, 49)
    assert [d["why"] for d in warmth["deductions"]] == ["late", "rejected"]
    report = next(i for i in g02["items"] if i["definition"] == "test-report")
    assert (report["missing"], report["score"]) == (1, 0)
    assert (g02["score"], g02["normalized"], g02["rank"]) == (49, 49, 2)
    assert warmth["title"] == "送温暖慰问"
    assert "township" not in result["levels"]  # no scored tasks of its own: not ranked


def test_a_closed_assessment_is_frozen_and_reopening_is_audited(
    db: Engine, replay: Any, year: dict[str, int]
) -> None:
    rt = replay.rt
    # A township cannot see, let alone close, its county's assessment.
    with write_session(db) as s, pytest.raises(NotInScope):
        assessment.close_assessment(s, rt, actor_for(s, "t01-admin"), "test-scheme", "K01")
    with write_session(db) as s:
        assessment.close_assessment(s, rt, actor_for(s, "k01-admin"), "test-scheme", "K01")
    replay.at("2026-04-12T10:00")
    with write_session(db) as s:
        lifecycle.submit_task(s, rt, actor_for(s, "g02-staff"), year["report_g02"])
    with write_session(db) as s, pytest.raises(Conflict):
        assessment.award_bonus(
            s, rt, actor_for(s, "k01-admin"), "test-scheme", "K01", "G02", "model-home", 1, "x"
        )
    with read_session(db) as s:
        frozen = assessment.assess(s, rt, actor_for(s, "k01-admin"), "test-scheme", "K01")
    assert frozen["closed"] and _row(frozen, "G02")["score"] == 49
    with write_session(db) as s:
        with pytest.raises(InvalidInput):
            assessment.reopen_assessment(s, rt, actor_for(s, "k01-admin"), "test-scheme", "K01", " ")
        assessment.reopen_assessment(s, rt, actor_for(s, "k01-admin"), "test-scheme", "K01", "补交材料复核")
    with read_session(db) as s:
        live = assessment.assess(s, rt, actor_for(s, "k01-admin"), "test-scheme", "K01")
        actions = s.scalars(
            select(Audit.action).where(Audit.action.like("assessment.%")).order_by(Audit.id)
        ).all()
        reason = s.scalar(select(Audit.payload).where(Audit.action == "assessment.reopened"))
    # The report was handed in after its deadline; the item has no late deduction: full 40.
    assert (live["closed"], _row(live, "G02")["score"]) == (False, 89)
    assert actions == ["assessment.closed", "assessment.reopened"]
    assert reason["reason"] == "补交材料复核"


def test_points_are_refused_outside_their_range(db: Engine, replay: Any, year: dict[str, int]) -> None:
    rt = replay.rt
    with write_session(db) as s:
        k01 = actor_for(s, "k01-admin")
        with pytest.raises(InvalidInput, match="at most 5"):
            assessment.award_bonus(s, rt, k01, "test-scheme", "K01", "G01", "model-home", 3, "again")
        with pytest.raises(InvalidInput, match="no bonus item"):
            assessment.award_bonus(s, rt, k01, "test-scheme", "K01", "G01", "nope", 1, "x")
    with write_session(db) as s, pytest.raises(Conflict, match="not approved"):
        assessment.award_quality(s, rt, actor_for(s, "t01-admin"), year["report_g02"], 1)
    # Scored by the one who approved it, not by another admin above.
    with write_session(db) as s, pytest.raises(Forbidden, match="only the approver"):
        assessment.award_quality(s, rt, actor_for(s, "k01-admin"), year["warmth_g01"], 1)
    with read_session(db) as s:
        awarded = s.scalar(select(func.count()).select_from(Audit).where(Audit.action.like("score.%")))
    assert awarded == 3  # two quality scores and one bonus, nothing from the refusals


def test_the_ledger_and_figures_match_a_hand_count(db: Engine, replay: Any, year: dict[str, int]) -> None:
    with read_session(db) as s:
        book = ledger.ledger(s, replay.rt, actor_for(s, "k01-admin"), "test-warmth", "K01", "2026")
    assert book["total"] == {"households": 15, "funds": 1200.5, "per_household": 600.25, "done_rate": 100.0}
    assert [(r["code"], r["values"]["households"]) for r in book["rows"]] == [("T01", 15)]
    assert [(t["unit_code"], t["state"], t["submitted"], t["files"]) for t in book["tasks"]] == [
        ("G01", "done", "2026-03-05", 0),
        ("G02", "done", "2026-04-05", 0),
    ]
    assert book["last_period"] == "2025" and book["last_year"]["households"] == 0
    sheet = load_workbook(BytesIO(ledger.ledger_workbook(book)))
    rows = [[c.value for c in row] for row in sheet["台账"].iter_rows()]
    assert rows[0][0] == "莞城街道总工会 送温暖慰问 台账（2026）"
    assert rows[2][:3] == ["单位代码", "单位名称", "层级"] and "慰问户数" in rows[2]
    assert rows[3][2] == "基层" or rows[3][2].startswith("基层")
    assert rows[-4][:3] == ["合计", "慰问户数（户）", 15]
    formulas = [c.value for ws in sheet for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == []
    summary = [[c.value for c in row] for row in sheet["汇总"].iter_rows()]
    assert summary[-2][0] == "合计" and summary[-2][3] == 15


def test_a_scheme_is_refused_whole_with_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        SCHEME.replace("points: 40", "points: -4").replace("max: 10}", "max: 70}"), encoding="utf-8"
    )
    with pytest.raises(DefinitionError) as refused:
        load_scheme_paths([bad])
    text = str(refused.value)
    assert f"{bad}:5: items[0]: quality.max (70) is more than the item's points (60)" in text
    assert f"{bad}:6: items[1].points: must be more than 0" in text


def test_the_api_serves_the_assessment_and_the_ledger_within_scope(
    db: Engine, replay: Any, year: dict[str, int], tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from duban.api.app import create_app
    from duban.settings import Settings

    app = create_app(
        Settings(database_url="sqlite:///unused.db", data_dir=tmp_path / "data"), engine=db, runtime=replay.rt
    )
    with TestClient(app) as client:

        def headers(name: str) -> dict[str, str]:
            r = client.post("/api/v1/auth/token", data={"username": name, "password": "password123"})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        k01, g01 = headers("k01-admin"), headers("g01-staff")
        shown = client.get("/api/v1/units/K01/assessment", params={"scheme": "test-scheme"}, headers=k01)
        assert shown.status_code == 200
        assert [r["code"] for r in shown.json()["levels"]["grassroots"]] == ["G01", "G02"]
        # A branch does not see its county's assessment, and cannot close anything.
        assert (
            client.get(
                "/api/v1/units/K01/assessment", params={"scheme": "test-scheme"}, headers=g01
            ).status_code
            == 404
        )
        assert (
            client.post(
                "/api/v1/units/G01/assessment/close", params={"scheme": "test-scheme"}, headers=g01
            ).status_code
            == 403
        )
        book = client.get(
            "/api/v1/units/K01/ledger", params={"definition": "test-warmth", "period": "2026"}, headers=k01
        )
        assert book.json()["total"]["households"] == 15
        xlsx = client.get(
            "/api/v1/units/K01/ledger",
            params={"definition": "test-warmth", "period": "2026", "format": "xlsx"},
            headers=k01,
        )
        assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert load_workbook(BytesIO(xlsx.content))["汇总"]["A1"].value.endswith("分单位汇总")


def test_the_command_line_loads_schemes_shows_scores_and_writes_the_ledger(
    db: Engine, db_url: str, replay: Any, year: dict[str, int], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from duban.cli.main import app

    runner = CliRunner()
    base = ["--db", db_url, "--now", "2026-04-10T10:00+08:00"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\n", encoding="utf-8")
    refused = runner.invoke(app, [*base, "schemes", "load", str(bad)])
    assert refused.exit_code == 1 and f"{bad}:1: title" in refused.output
    listed = runner.invoke(app, [*base, "schemes", "list", "--json"])
    assert [s["id"] for s in json.loads(listed.stdout)] == ["test-scheme"]
    card = runner.invoke(
        app, [*base, "assess", "show", "test-scheme", "--unit", "K01", "--card", "G02", "--json"]
    )
    assert card.exit_code == 0, card.output
    assert json.loads(card.stdout)["score"] == 49
    table = runner.invoke(app, [*base, "assess", "show", "test-scheme", "--unit", "K01"])
    assert "基层单位排名" in table.stdout and "华达电子有限公司工会" in table.stdout
    out = tmp_path / "ledger.xlsx"
    made = runner.invoke(
        app, [*base, "ledger", "test-warmth", "--unit", "K01", "--period", "2026", "--xlsx", str(out)]
    )
    assert made.exit_code == 0, made.output
    assert load_workbook(out)["台账"]["A1"].value.startswith("莞城街道总工会")
