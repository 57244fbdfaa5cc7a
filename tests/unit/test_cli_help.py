"""The command line's help and docs/cli.md agree, and `duban --help` loads nothing it does not show.

Every command (and subcommand) the Typer app registers has a row in docs/cli.md naming it
(`duban units list`, or a row of alternatives such as `duban tasks approve\\|reject`), and every
option it takes appears on that row.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from duban.cli.main import COMMANDS, app, load

DOC = Path(__file__).parents[2] / "docs" / "cli.md"
GLOBAL = {"--db", "--now", "--help"}


def walk() -> list[tuple[tuple[str, ...], Any]]:
    """Every leaf command as (its words, the click command)."""
    found = []

    def visit(words: tuple[str, ...], cmd: Any) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                visit((*words, name), sub)
        else:
            found.append((words, cmd))

    for name in COMMANDS:
        visit((name,), load(name))
    return found


def options(cmd: Any) -> set[str]:
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")} - GLOBAL


def doc_rows() -> list[tuple[list[list[str]], str]]:
    """Each table row whose first cell is a command: its words as alternatives, and the whole row."""
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| `duban ([^`]*)`", line)
        if m:
            words = m.group(1).replace("\\|", "|").split()
            rows.append(([w.split("|") for w in words], line))
    return rows


def row_for(words: tuple[str, ...], rows: list[tuple[list[list[str]], str]]) -> list[str]:
    return [
        line
        for alts, line in rows
        if len(alts) >= len(words) and all(w in a for w, a in zip(words, alts, strict=False))
    ]


def test_the_lazy_table_is_what_the_modules_register() -> None:
    every = typer.Typer()
    every.callback()(lambda: None)
    modules = {m for mods, _ in COMMANDS.values() for m in mods}
    import importlib

    for module in sorted(modules):
        importlib.import_module(f"duban.cli.{module}").register(every)
    group = typer.main.get_command(every)
    assert sorted(group.commands) == sorted(COMMANDS)
    for name, cmd in group.commands.items():
        assert (cmd.help or "").strip().splitlines()[0] == COMMANDS[name][1], name


def test_every_command_and_option_is_in_docs_cli_md() -> None:
    rows = doc_rows()
    missing = []
    for words, cmd in walk():
        lines = row_for(words, rows)
        if not lines:
            missing.append(f"duban {' '.join(words)}: no row")
            continue
        text = " ".join(lines)
        missing += [f"duban {' '.join(words)} {o}" for o in sorted(options(cmd)) if o not in text]
    assert missing == []


def test_help_shows_only_what_a_command_takes() -> None:
    runner = CliRunner()
    approve = runner.invoke(app, ["tasks", "approve", "--help"])
    assert approve.exit_code == 0 and "--reason" in approve.output and "--due" not in approve.output
    extend = load("tasks").commands["extend"]
    due = next(p for p in extend.params if "--due" in p.opts)
    assert due.required
    assert runner.invoke(app, ["tasks", "extend", "1", "--by", "x"]).exit_code == 2  # --due missing: usage


def test_help_imports_no_database_web_or_workflow_code() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from duban.cli.main import app\n"
        "for args in (['--help'],):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0\n"
        "heavy = ('sqlalchemy', 'sqlmodel', 'alembic', 'fastapi', 'prefect', 'apscheduler', 'openpyxl', "
        "'duban.api', 'duban.flows', 'duban.bench', 'duban.engine.store')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout
