"""The operator's command line: `duban`, one Typer app with the global --db and --now.

Exit status: 0 success, 1 refused input (the message says what and where), 2 usage.
`--json` prints one JSON document on stdout and nothing else.
"""

from __future__ import annotations

import sys
from datetime import datetime

import typer

from duban.cli import (
    assess_cmds,
    assignments_cmds,
    backup_cmd,
    bench_cmd,
    demo_cmd,
    ops_cmds,
    serve_cmd,
    setup_cmds,
    tasks_cmds,
)
from duban.cli.context import Context, fail, parse_instant

app = typer.Typer(
    name="duban",
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
    ctx.obj = Context(db_url=db, now=instant)


setup_cmds.register(app)
assignments_cmds.register(app)
tasks_cmds.register(app)
ops_cmds.register(app)
demo_cmd.register(app)
serve_cmd.register(app)
bench_cmd.register(app)
backup_cmd.register(app)
assess_cmds.register(app)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        fail("interrupted", code=130)


if __name__ == "__main__":
    sys.exit(main())
