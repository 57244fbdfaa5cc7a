"""A password is hashed (~0.5 s, by design) before any write transaction opens: other writers never wait on it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from duban.cli.main import app
from duban.engine.access import accounts

FIXTURES = Path(__file__).parent.parent / "fixtures"
runner = CliRunner()


def test_the_command_line_hashes_outside_its_write_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "h.db"
    url = f"sqlite:///{path}"
    assert runner.invoke(app, ["--db", url, "init"]).exit_code == 0
    assert runner.invoke(app, ["--db", url, "units", "import", str(FIXTURES / "tree.csv")]).exit_code == 0
    lock_free: list[bool] = []
    real = accounts.hash_password

    def hash_and_probe(password: str) -> str:
        # Another writer asks for the lock without waiting: it gets it only if no transaction holds it.
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            lock_free.append(True)
        except sqlite3.OperationalError:
            lock_free.append(False)
        finally:
            other.close()
        return real(password)

    monkeypatch.setattr(accounts, "hash_password", hash_and_probe)
    added = runner.invoke(
        app,
        ["--db", url, "accounts", "add", "li.ming", "--unit", "G01", "--role", "staff"],
        input="first-pass-1\n",
    )
    assert added.exit_code == 0, added.output
    reset = runner.invoke(
        app, ["--db", url, "accounts", "reset-password", "li.ming"], input="second-pass-2\n"
    )
    assert reset.exit_code == 0, reset.output
    # (a third hash may be the sign-in check's dummy, made once when that module loads)
    assert len(lock_free) >= 2 and all(lock_free), lock_free
