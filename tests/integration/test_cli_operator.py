"""The operator's commands on both databases: the shipped seed plan, listings, accounts, doctor."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from duban.cli.main import app
from duban.seed import seed_definitions

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
runner = CliRunner()


def duban(url: str, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--db", url, *args], input=input)


def test_definitions_path_prints_the_shipped_seed() -> None:
    result = runner.invoke(app, ["definitions", "path"])
    assert result.exit_code == 0
    path = Path(result.stdout.strip())
    assert path == seed_definitions()
    assert sorted(p.name for p in path.glob("*.yaml")) == sorted(
        p.name for p in (ROOT / "definitions").glob("*.yaml")
    )


def test_definitions_load_builtin_stores_the_seed_plan(db_url: str) -> None:
    result = duban(db_url, "definitions", "load", "--builtin", "--json")
    assert result.exit_code == 0, result.output
    stored = json.loads(result.stdout)
    assert len(stored) == len(list(seed_definitions().glob("*.yaml")))
    assert {s["status"] for s in stored} == {"new"}
    again = json.loads(duban(db_url, "definitions", "load", "--builtin", "--json").stdout)
    assert {s["status"] for s in again} == {"unchanged"}


def test_definitions_load_wants_a_path_or_builtin(db_url: str) -> None:
    result = duban(db_url, "definitions", "load")
    assert result.exit_code == 2
    assert "--builtin" in result.output
