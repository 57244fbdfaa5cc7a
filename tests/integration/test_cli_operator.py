"""The operator's commands on both databases: the shipped seed plan, listings, accounts, doctor."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
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


# --- listings, accounts, the 督办 list and the inbox, on both databases ------------------------------

NOW = "2026-03-02T10:00+08:00"
LATE = "2026-07-02T10:00+08:00"  # the congress was due 06-30: escalated to each branch's parent


def ok(result):  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return result


def setup_world(url: str) -> None:
    ok(duban(url, "units", "import", str(FIXTURES / "tree.csv")))
    ok(duban(url, "definitions", "load", str(FIXTURES / "defs")))
    ok(duban(url, "accounts", "add", "t01-admin", "--unit", "T01", "--role", "admin", input="password-t01\n"))
    ok(duban(url, "accounts", "add", "g01-staff", "--unit", "G01", "--role", "staff", input="password-g01\n"))
    ok(runner.invoke(app, ["--db", url, "--now", NOW, "assign", "test-congress", "--scope", "C01"]))


def test_units_list_every_unit_and_a_subtree(db_url: str) -> None:
    setup_world(db_url)
    everything = json.loads(ok(duban(db_url, "units", "list", "--json")).stdout)
    assert [u["code"] for u in everything] == [
        "C01",
        "K01",
        "T01",
        "G01",
        "S01",
        "G02",
        "K02",
        "T02",
        "G03",
        "G04",
    ]
    under = json.loads(ok(duban(db_url, "units", "list", "--under", "T02", "--json")).stdout)
    assert [(u["code"], u["parent_code"]) for u in under] == [("T02", "K02"), ("G03", "T02"), ("G04", "T02")]
    assert under[1]["tags"] == ["market", "non_public"] and under[1]["attrs"] == {"members": 45}
    refused = duban(db_url, "units", "list", "--under", "NOPE")
    assert refused.exit_code == 1 and "unit NOPE not found" in refused.output


def test_piped_output_is_never_cut(db_url: str) -> None:
    setup_world(db_url)
    result = ok(duban(db_url, "units", "list"))  # CliRunner's stdout is not a terminal, as in a pipe
    lines = result.stdout.splitlines()
    row = next(line for line in lines if "华达电子有限公司工会" in line)
    assert "G01" in row and "基层" in row and "enterprise;non_public" in row and "members=320" in row
    assert max(len(line) for line in lines) > 80  # wider than a terminal's default, and still whole
    assert result.stdout.strip().endswith("10 units")


def test_accounts_list_disable_enable_and_reset(db_url: str) -> None:
    from duban.engine.access import sessions
    from duban.engine.errors import Unauthenticated
    from duban.engine.store.db import make_engine, read_session

    setup_world(db_url)
    listed = json.loads(ok(duban(db_url, "accounts", "list", "--json")).stdout)
    assert [(a["name"], a["unit"], a["role"], a["active"]) for a in listed] == [
        ("g01-staff", "G01", "staff", True),
        ("t01-admin", "T01", "admin", True),
    ]
    assert listed[0]["created_at"].endswith("+08:00")  # the deployment's zone, not UTC
    engine = make_engine(db_url)
    try:
        from datetime import datetime

        now = datetime.now().astimezone()
        issued = sessions.sign_in(engine, now, "g01-staff", "password-g01", "127.0.0.1", 60)
        assert issued is not None
        disabled = json.loads(ok(duban(db_url, "accounts", "disable", "g01-staff", "--json")).stdout)
        assert disabled == {"name": "g01-staff", "active": False, "tokens_revoked": 1}
        with read_session(engine) as s, pytest.raises(Unauthenticated):
            sessions.verify_token(s, now, issued.token)
        by_admin = duban(db_url, "accounts", "enable", "g01-staff", "--by", "g01-staff")
        assert by_admin.exit_code == 1  # a staff account manages nobody
        ok(duban(db_url, "accounts", "enable", "g01-staff", "--by", "t01-admin"))
        reset = ok(
            duban(db_url, "accounts", "reset-password", "g01-staff", "--json", input="brand-new-pass\n")
        )
        assert json.loads(reset.stdout)["name"] == "g01-staff"
        assert sessions.sign_in(engine, now, "g01-staff", "brand-new-pass", "127.0.0.1", 60) is not None
        short = duban(db_url, "accounts", "reset-password", "g01-staff", input="short\n")
        assert short.exit_code == 1
        assert duban(db_url, "accounts", "reset-password", "g01-staff", input="").exit_code == 2
    finally:
        engine.dispose()
    kinds = json.loads(ok(duban(db_url, "accounts", "list", "--under", "T01", "--json")).stdout)
    assert [a["name"] for a in kinds] == ["g01-staff", "t01-admin"]


def test_supervision_and_inbox_from_the_command_line(db_url: str) -> None:
    setup_world(db_url)
    ok(runner.invoke(app, ["--db", db_url, "--now", LATE, "sweep"]))
    ok(runner.invoke(app, ["--db", db_url, "--now", LATE, "deliver"]))
    escalated = json.loads(ok(duban(db_url, "supervision", "list", "--unit", "T01", "--json")).stdout)
    assert sorted(t["unit_code"] for t in escalated) == ["G01", "G02"]
    assert all(t["supervised_since"].endswith("+08:00") for t in escalated)
    human = ok(duban(db_url, "supervision", "list", "--unit", "T01")).stdout
    assert "待办理" in human and "2 tasks escalated to T01" in human
    inbox = json.loads(ok(duban(db_url, "inbox", "list", "--account", "t01-admin", "--json")).stdout)
    assert inbox["account"] == "t01-admin" and inbox["unread"] == len(inbox["items"]) >= 2
    assert {i["kind"] for i in inbox["items"]} >= {"escalation"}
    assert all(i["created_at"].endswith("+08:00") for i in inbox["items"])
    assert "已逾期·督办" in ok(duban(db_url, "inbox", "list", "--account", "t01-admin")).stdout
    assert duban(db_url, "inbox", "list", "--account", "nobody").exit_code == 1


def test_json_times_are_in_the_deployments_zone(db_url: str) -> None:
    setup_world(db_url)
    documents = [
        runner.invoke(app, ["--db", db_url, "--now", LATE, "sweep", "--json"]).stdout,
        duban(db_url, "accounts", "list", "--json").stdout,
        duban(db_url, "tasks", "list", "--unit", "C01", "--subtree", "--json").stdout,
        duban(db_url, "supervision", "list", "--unit", "T01", "--json").stdout,
        duban(db_url, "outbox", "list", "--json").stdout,
        duban(db_url, "assignments", "list", "--json").stdout,
        duban(db_url, "report", "C01", "--json").stdout,
    ]
    stamps = [s for doc in documents for s in _instants(json.loads(doc))]
    assert stamps and all(s.endswith("+08:00") for s in stamps), [
        s for s in stamps if not s.endswith("+08:00")
    ]


def _instants(value: object) -> list[str]:
    import re

    if isinstance(value, dict):
        return [s for v in value.values() for s in _instants(v)]
    if isinstance(value, list):
        return [s for v in value for s in _instants(v)]
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d.*", value):
        return [value]
    return []


# --- doctor --------------------------------------------------------------------------------------


def test_doctor_names_what_a_deployment_lacks(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUBAN_SMTP_HOST", raising=False)
    setup_world(db_url)
    result = duban(db_url, "doctor", "--json")
    doc = json.loads(result.stdout)
    by_level = {f["level"] for f in doc["findings"]}
    assert result.exit_code == 0 and doc["errors"] == 0 and "warning" in by_level
    unheard = next(f for f in doc["findings"] if "无人收到" in f["zh"])
    assert unheard["en"].startswith("8 of 10 units")  # only T01 and G01 have accounts
    ok(duban(db_url, "contacts", "set", "G02", "--email", "g02@example.cn"))
    result = duban(db_url, "doctor")
    assert result.exit_code == 1  # an address waits for email and no SMTP server is set
    assert "未配置邮件服务器" in result.stdout and "1 errors" in result.stdout
    monkeypatch.setenv("DUBAN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DUBAN_LOCAL", "false")
    result = duban(db_url, "doctor", "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 1
    assert [f["en"] for f in doc["findings"] if f["level"] == "error"] == [
        "DUBAN_SECRET_KEY is still the placeholder with DUBAN_LOCAL=false: the server will refuse to start."
    ]


# --- database URLs that cannot work: one line, exit 1, no traceback ------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://root@127.0.0.1/duban", "mysql databases are not supported"),
        ("sqlite:///{tmp}/no/such/folder/duban.db", "of the SQLite file does not exist"),
        ("postgresql://root@127.0.0.1:5432/duban_no_such_db_x", "database duban_no_such_db_x does not exist"),
    ],
)
def test_a_database_that_cannot_work_is_one_line(url: str, says: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    if url.startswith("postgresql") and not os.environ.get("DUBAN_TEST_POSTGRES_URL"):
        pytest.skip("no PostgreSQL to ask")
    result = subprocess.run(
        [sys.executable, "-m", "duban.cli.main", "--db", url.format(tmp=tmp_path), "init"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and says in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
