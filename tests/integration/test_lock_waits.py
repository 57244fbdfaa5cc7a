"""SQLite's one write lock: a writer behind a long one waits with backoff and goes on, or says so in one line."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from duban.cli.main import app
from duban.engine.errors import DatabaseBusy
from duban.engine.store import db as store_db
from duban.engine.store.db import make_engine, write_session

FIXTURES = Path(__file__).parent.parent / "fixtures"
runner = CliRunner()


def hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Another process's long writer (an import of a huge file), as a thread with its own connection."""
    ready = threading.Event()

    def run() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        ready.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
        conn.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert ready.wait(5)
    return thread


@pytest.fixture
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same path as production with a 0.2 s busy timeout, so a test waits seconds, not minutes.
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(store_db, "LOCK_WAIT_SECONDS", 10.0)


def test_a_writer_behind_a_longer_writer_than_the_busy_timeout_goes_on(
    tmp_path: Path, short_waits: None
) -> None:
    path = tmp_path / "w.db"
    engine = make_engine(f"sqlite:///{path}")
    with write_session(engine) as s:
        s.connection().exec_driver_sql("CREATE TABLE t (x INTEGER)")
    holder = hold_write_lock(path, 1.5)
    started = time.monotonic()
    with write_session(engine) as s:
        s.connection().exec_driver_sql("INSERT INTO t VALUES (1)")
    assert time.monotonic() - started >= 1.0
    holder.join()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    engine.dispose()


def test_a_writer_gives_up_with_busy_after_the_lock_wait(
    tmp_path: Path, short_waits: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_db, "LOCK_WAIT_SECONDS", 0.5)
    path = tmp_path / "w.db"
    engine = make_engine(f"sqlite:///{path}")
    with write_session(engine) as s:
        s.connection().exec_driver_sql("CREATE TABLE t (x INTEGER)")
    holder = hold_write_lock(path, 2.0)
    with pytest.raises(DatabaseBusy, match="stayed locked"), write_session(engine) as s:
        s.connection().exec_driver_sql("INSERT INTO t VALUES (1)")
    holder.join()
    engine.dispose()


def _db(tmp_path: Path) -> Path:
    path = tmp_path / "cli.db"
    url = f"sqlite:///{path}"
    assert runner.invoke(app, ["--db", url, "init"]).exit_code == 0
    assert runner.invoke(app, ["--db", url, "units", "import", str(FIXTURES / "tree.csv")]).exit_code == 0
    assert runner.invoke(app, ["--db", url, "definitions", "load", str(FIXTURES / "defs")]).exit_code == 0
    now = ["--now", "2026-03-02T10:00+08:00"]
    assert runner.invoke(app, ["--db", url, *now, "assign", "test-weekly", "--scope", "C01"]).exit_code == 0
    return path


def test_a_sweep_behind_a_long_writer_completes(tmp_path: Path, short_waits: None) -> None:
    path = _db(tmp_path)
    holder = hold_write_lock(path, 2.0)
    result = runner.invoke(app, ["--db", f"sqlite:///{path}", "--now", "2026-12-01T10:00+08:00", "sweep"])
    holder.join()
    assert result.exit_code == 0, result.output
    assert "reminders" in result.output or "tasks" in result.output


def test_a_sweep_that_cannot_get_the_lock_says_so_in_one_line(
    tmp_path: Path, short_waits: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _db(tmp_path)
    monkeypatch.setattr(store_db, "LOCK_WAIT_SECONDS", 0.5)
    holder = hold_write_lock(path, 2.5)
    result = runner.invoke(app, ["--db", f"sqlite:///{path}", "--now", "2026-12-01T10:00+08:00", "sweep"])
    holder.join()
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "stayed locked" in lines[0], result.output
