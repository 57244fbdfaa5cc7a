"""The operator's command line: `duban`, one Typer app with the global --db and --now.

Exit status: 0 success, 1 refused input (the message says what and where), 2 usage.
`--json` prints one JSON document on stdout and nothing else.

Each command's module is imported only when that command runs: `duban --help` lists the
commands from the table below without loading the database stack, the API, Prefect or the
bench. A test checks the table against what the modules register.
"""

from __future__ import annotations

import importlib
import sys
from datetime import datetime
from typing import Any

import typer
from typer.core import TyperGroup

from duban.cli.context import Context, activate, database_trouble, parse_instant

# command -> (the modules whose `register` adds it, the one-line help `duban --help` shows)
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "init": (("setup_cmds",), "Create the schema, or upgrade an older database to the newest."),
    "units": (("setup_cmds", "directory_cmds"), "The org tree."),
    "people": (("setup_cmds",), "Cadres and members."),
    "accounts": (("setup_cmds", "directory_cmds"), "Accounts that sign in."),
    "definitions": (("setup_cmds",), "Plan items, as YAML definitions."),
    "contacts": (("setup_cmds",), "Where a unit's notices go."),
    "calendar": (("setup_cmds",), "The statutory working-day calendar."),
    "assign": (
        ("assignments_cmds",),
        "Assign a definition (or a whole plan) to a scope and create its tasks.",
    ),
    "plans": (("assignments_cmds",), "Plans: the documents whose items are assigned together."),
    "assignments": (("assignments_cmds",), "Assignments of definitions to subtrees."),
    "targets": (("assignments_cmds",), "Numeric targets."),
    "events": (("assignments_cmds",), "Events that create tasks."),
    "preview": (
        ("assignments_cmds",),
        "The timeline of one task triggered at --at: due, overdue, reminders and escalations.",
    ),
    "report": (
        ("assignments_cmds",),
        "Roll-up of a unit's subtree: one row per child unit and per definition.",
    ),
    "tasks": (("tasks_cmds",), "Tasks: list them and move them along."),
    "ledger": (
        ("assess_cmds",),
        "台账: one item's submitted figures per unit, totals and rates, and the same period last year.",
    ),
    "schemes": (("assess_cmds",), "Scoring schemes (考核细则)."),
    "assess": (("assess_cmds",), "Assessments (考核): scores, ranking, closing a year."),
    "supervision": (("follow_cmds",), "督办: the late work escalated to a unit."),
    "inbox": (("follow_cmds",), "An account's in-app notices."),
    "sweep": (
        ("ops_cmds",),
        "Open new periods, give units that joined a scope their tasks, send due reminders and escalations.",
    ),
    "deliver": (
        ("ops_cmds",),
        "Deliver the outbox: email, webhooks, WeCom, DingTalk and the in-app inbox, with retries.",
    ),
    "outbox": (("ops_cmds",), "Notices waiting to go out, sent, or dead."),
    "doctor": (
        ("doctor_cmd",),
        "Check a deployment: settings, transports, units nobody hears, the calendar.",
    ),
    "backup": (
        ("backup_cmd",),
        "Back the database up to FILE while it runs (SQLite online backup; PostgreSQL pg_dump -Fc).",
    ),
    "restore": (
        ("backup_cmd",),
        "Restore the database from FILE made by `duban backup` (stop the server and scheduler first).",
    ),
    "serve": (("serve_cmd",), "Serve the HTTP API (/api/v1, /openapi.json) and the web UI."),
    "demo": (
        ("demo_cmd",),
        "A demo city with the seed's plan assigned, six weeks of follow-up replayed day by day, and the server.",
    ),
    "bench": (
        ("bench_cmd",),
        "Measure fan-out, sweep, roll-up, delivery and HTTP against bare baselines on a fresh province-sized tree.",
    ),
}


def load(name: str) -> Any:
    """The real click command `name`, its modules imported and registered on a scratch app."""
    scratch = typer.Typer()
    scratch.callback()(lambda: None)  # always a group, even for a module of one command
    for module in COMMANDS[name][0]:
        importlib.import_module(f"duban.cli.{module}").register(scratch)
    group = typer.main.get_command(scratch)
    assert isinstance(group, TyperGroup)
    return group.commands[name]


class LazyGroup(TyperGroup):
    """The root group: commands listed from COMMANDS, each loaded on first use."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.commands, *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        if self._listing:  # the help's list of commands needs a name and a line, not the command
            return typer.core.TyperCommand(cmd_name, help=COMMANDS[cmd_name][1])
        self.commands[cmd_name] = load(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="duban",
    cls=LazyGroup,
    help="督办 duban — assign a union work plan down the org tree, follow it up, see it through.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main_options(
    ctx: typer.Context,
    db: str = typer.Option(
        None, "--db", envvar="DUBAN_DATABASE_URL", help="Database URL [default: sqlite:///duban.db]"
    ),
    now: str = typer.Option(None, "--now", help="The clock for this run (ISO-8601 with offset)."),
) -> None:
    """Global options, before the subcommand."""
    instant: datetime | None = parse_instant(now, "--now") if now else None
    ctx.obj = activate(Context(db_url=db, now=instant))


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    except (
        Exception
    ) as exc:  # a command without @refusals met a database it cannot use: one line, no traceback
        trouble = database_trouble(exc)
        if trouble is None:
            raise
        sys.stderr.write(f"error: {trouble}\n")
        sys.exit(1)


if __name__ == "__main__":
    sys.exit(main())
