"""`duban backup` / `duban restore`: a restored database holds exactly what was backed up — both databases."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, MetaData
from typer.testing import CliRunner

from duban.cli.main import app
from duban.engine.store.db import make_engine

FIXTURES = Path(__file__).parent.parent / "fixtures"
runner = CliRunner()


def duban(url: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--db", url, *args])


def contents(engine: Engine) -> dict[str, list[str]]:
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(t.select()).all())) for t in meta.sorted_tables}


def test_backup_then_restore_gives_the_same_rows(db_url: str, empty_db_url: str, tmp_path: Path) -> None:
    now = ["--now", "2026-03-02T10:00+08:00"]
    assert duban(db_url, "units", "import", str(FIXTURES / "tree.csv")).exit_code == 0
    assert duban(db_url, "definitions", "load", str(FIXTURES / "defs")).exit_code == 0
    assert duban(db_url, *now, "assign", "test-congress", "--scope", "C01").exit_code == 0
    assert duban(db_url, "--now", "2026-12-30T10:00+08:00", "sweep").exit_code == 0
    source = make_engine(db_url)
    before = contents(source)
    assert sum(map(len, before.values())) > 50

    file = tmp_path / "duban.backup"
    made = duban(db_url, "backup", str(file), "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["rows"] == sum(map(len, before.values()))
    assert duban(db_url, "backup", str(file)).exit_code == 1  # never overwrites without --force

    restored = duban(empty_db_url, "restore", str(file), "--json")
    assert restored.exit_code == 0, restored.output
    target = make_engine(empty_db_url)
    assert contents(target) == before
    assert json.loads(restored.output)["tables"] == {t: len(rows) for t, rows in before.items()}

    # Restoring over data needs --force, and then brings the backup's state back.
    assert duban(empty_db_url, "--now", "2027-06-30T10:00+08:00", "sweep").exit_code == 0
    refused = duban(empty_db_url, "restore", str(file))
    assert refused.exit_code == 1 and "--force" in refused.output
    assert duban(empty_db_url, "restore", str(file), "--force").exit_code == 0
    target.dispose()
    target = make_engine(empty_db_url)
    assert contents(target) == before
    target.dispose()
    source.dispose()


def test_restoring_something_that_is_not_a_backup_is_refused(db_url: str, tmp_path: Path) -> None:
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a backup at all" * 100)
    result = duban(db_url, "restore", str(junk), "--force")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
