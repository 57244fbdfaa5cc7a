"""The command line as a user meets it: exit codes, --json, refusals that change nothing."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from duban.cli.main import app

FIXTURES = Path(__file__).parent.parent / "fixtures"
runner = CliRunner()


def duban(db: Path, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--db", f"sqlite:///{db}", *args], input=input)


def digest(db: Path) -> str:
    # Checkpoint so the file itself holds everything, then hash its bytes.
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return hashlib.sha256(db.read_bytes()).hexdigest()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "cli.db"
    assert duban(path, "init").exit_code == 0
    assert duban(path, "units", "import", str(FIXTURES / "tree.csv")).exit_code == 0
    assert duban(path, "definitions", "load", str(FIXTURES / "defs")).exit_code == 0
    return path


def test_a_year_from_the_command_line(db: Path) -> None:
    now = ["--now", "2026-03-02T10:00+08:00"]
    result = runner.invoke(
        app, ["--db", f"sqlite:///{db}", *now, "assign", "test-congress", "--scope", "C01", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "assignment_id": 1,
        "created": 4,
        "period": "2026",
        "due_at": "2026-06-30T23:59:59+08:00",
        "late_assignment": None,
    }
    listed = json.loads(duban(db, "tasks", "list", "--unit", "C01", "--subtree", "--json").stdout)
    assert [t["due_at"] for t in listed["items"]] == ["2026-06-30T23:59:59+08:00"] * 4
    assert {t["state"] for t in listed["items"]} == {"open"}
    preview = json.loads(
        duban(db, "preview", "test-congress", "--at", "2026-03-02T10:00+08:00", "--json").stdout
    )
    # P1D before Tuesday 06-30 is Monday 06-29; P7D is Tuesday 06-23.
    assert preview["reminders"] == ["2026-06-23T09:00:00+08:00", "2026-06-29T09:00:00+08:00"]
    assert preview["escalations"][0] == {"at": "2026-07-01T00:00:00+08:00", "to": "parent", "level": 1}


def test_refused_input_exits_1_and_changes_nothing(db: Path, tmp_path: Path) -> None:
    before = digest(db)
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,parent_code,level,tags,attrs\nX1,某工会,NOPE,grassroots,,\n", encoding="utf-8")
    result = duban(db, "units", "import", str(bad))
    assert result.exit_code == 1
    assert "bad.csv:2: parent_code: unknown parent NOPE" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        (FIXTURES / "defs" / "plaque.yaml")
        .read_text(encoding="utf-8")
        .replace("workdays: 10", "workdays: -3")
    )
    result = duban(db, "definitions", "load", str(FIXTURES / "defs"), str(broken))
    assert result.exit_code == 1
    assert "broken.yaml:7: due" in result.output
    assert digest(db) == before


def test_usage_errors_exit_2(db: Path) -> None:
    assert runner.invoke(app, ["--db", f"sqlite:///{db}", "--now", "yesterday", "sweep"]).exit_code == 2
    assert duban(db, "assign").exit_code == 2


def test_accounts_read_the_password_from_stdin(db: Path) -> None:
    result = duban(
        db, "accounts", "add", "li.ming", "--unit", "C01", "--role", "admin", "--json", input="s3cret-pass\n"
    )
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as conn:
        (stored,) = conn.execute("SELECT password_hash FROM account WHERE name = 'li.ming'").fetchone()
    assert stored.startswith("$argon2id$") and "s3cret-pass" not in stored
    short = duban(db, "accounts", "add", "wang", "--unit", "C01", "--role", "admin", input="short\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output


def test_json_options_are_checked(db: Path) -> None:
    bad_form = duban(db, "tasks", "submit", "1", "--by", "nobody", "--form", "[1]")
    assert bad_form.exit_code == 1 and "--form: must be a JSON object" in bad_form.output
    bad_data = duban(db, "events", "post", "cadre.appointed", "--unit", "G01", "--data", "{bad")
    assert bad_data.exit_code == 1 and "--data: bad JSON" in bad_data.output


def test_units_import_as_an_account_stays_in_its_subtree(db: Path, tmp_path: Path) -> None:
    assert (
        duban(
            db, "accounts", "add", "k01-admin", "--unit", "K01", "--role", "admin", input="password123\n"
        ).exit_code
        == 0
    )
    rows = tmp_path / "more.csv"
    rows.write_text(
        "code,name,parent_code,level,tags,attrs\nX1,越界工会,T02,grassroots,,\n", encoding="utf-8"
    )
    result = duban(db, "units", "import", str(rows), "--by", "k01-admin")
    assert result.exit_code == 1 and "more.csv:2: parent_code: unknown parent T02" in result.output
    assert duban(db, "units", "import", str(rows)).exit_code == 0  # the operator may


def test_the_demo_builds_a_city_and_replays_its_weeks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["--now", "2026-04-15T10:00+08:00", "demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "tree: 136 units; definitions: 62" in result.output
    assert "assignments: 7, tasks created:" in result.output
    # the replayed weeks leave late work behind: an incident and two membership transfers
    assert "3 overdue, 3 escalated" in result.output
    with sqlite3.connect(tmp_path / "duban-demo.db") as conn:
        assert conn.execute("SELECT count(*) FROM notification").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM account").fetchone()[0] == 6
        # The story: one done and approved, one sent back then resubmitted, branches waiting, an urge, unread notices.
        states = dict(
            conn.execute("SELECT state, count(*) FROM task WHERE state != 'open' GROUP BY state").fetchall()
        )
        assert states == {"done": 1, "submitted": 3}
        actions = dict(conn.execute("SELECT action, count(*) FROM audit GROUP BY action").fetchall())
        assert (
            actions["task.rejected"] == 1 and actions["task.file_removed"] == 1 and actions["task.urged"] >= 1
        )
        assert actions["task.progressed"] == 1
        assert conn.execute("SELECT count(*) FROM inbox_item WHERE read_at IS NULL").fetchone()[0] >= 2
    assert "factory-staff" in result.output and "（基层）经办人" in result.output
    # Running it again reuses the database: nothing is created twice.
    again = runner.invoke(app, ["--now", "2026-04-15T10:00+08:00", "demo", "--no-serve"])
    assert again.exit_code == 0, again.output
    assert "exists already" in again.output
