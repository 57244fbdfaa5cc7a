"""`duban backup FILE` and `duban restore FILE`: the whole database to one file and back."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from duban.cli.context import JSON, ctx_of, emit_json, refusals, shown
from duban.engine.store.backup import backup_database, restore_database

out = Console()
FORCE = typer.Option(False, "--force", help="Replace an existing file (backup) or existing data (restore).")


def _report(verb: str, path: Path, counts: dict[str, int], json: bool) -> None:
    if json:
        emit_json({"file": str(path), "tables": counts, "rows": sum(counts.values())})
    else:
        out.print(f"{verb} {shown(path)}: {len(counts)} tables, {sum(counts.values())} rows")


@refusals
def backup(ctx: typer.Context, file: Path, force: bool = FORCE, json: bool = JSON) -> None:
    """Back the database up to FILE while it runs (SQLite online backup; PostgreSQL pg_dump -Fc)."""
    _report("backed up to", file, backup_database(ctx_of(ctx).engine, file, overwrite=force), json)


@refusals
def restore(ctx: typer.Context, file: Path, force: bool = FORCE, json: bool = JSON) -> None:
    """Restore the database from FILE made by `duban backup` (stop the server and scheduler first)."""
    _report("restored from", file, restore_database(ctx_of(ctx).engine, file, overwrite=force), json)


def register(app: typer.Typer) -> None:
    """Add `backup` and `restore` to the CLI."""
    app.command("backup")(backup)
    app.command("restore")(restore)
