"""Setting a deployment up: schema, org tree, people, accounts, definitions, contacts, calendar."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from duban.cli.context import BY, JSON, acting, ctx_of, emit_json, fail, progress_bar, refusals, shown
from duban.engine.access.accounts import NewPassword, add_account
from duban.engine.access.actors import OPERATOR
from duban.engine.channels.targets import parse_hosts
from duban.engine.language.loader import load_paths
from duban.engine.org.contacts import set_contacts
from duban.engine.org.people import import_people, read_people
from duban.engine.org.units import import_units, read_units
from duban.engine.store import schema
from duban.engine.work import catalog
from duban.engine.work.person_events import post_people_events
from duban.seed import seed_definitions

out = Console()
units_app = typer.Typer(help="The org tree.", no_args_is_help=True)
people_app = typer.Typer(help="Cadres and members.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts that sign in.", no_args_is_help=True)
definitions_app = typer.Typer(help="Plan items, as YAML definitions.", no_args_is_help=True)
contacts_app = typer.Typer(help="Where a unit's notices go.", no_args_is_help=True)
calendar_app = typer.Typer(help="The statutory working-day calendar.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.add_typer(units_app, name="units")
    app.add_typer(people_app, name="people")
    app.add_typer(accounts_app, name="accounts")
    app.add_typer(definitions_app, name="definitions")
    app.add_typer(contacts_app, name="contacts")
    app.add_typer(calendar_app, name="calendar")


@refusals
def init(ctx: typer.Context, json: bool = JSON) -> None:
    """Create the schema, or upgrade an older database to the newest."""
    c = ctx_of(ctx)
    before, after = schema.upgrade(c.engine)
    if json:
        emit_json({"from": before, "to": after})
    elif before == after:
        out.print(f"schema is current ({after})")
    else:
        out.print(f"schema upgraded from {before or 'empty'} to {after}")


DRY_RUN = typer.Option(False, "--dry-run", help="Print what would change; change nothing.")


@units_app.command("import")
@refusals
def units_import(
    ctx: typer.Context, file: Path, by: str = BY, dry_run: bool = DRY_RUN, json: bool = JSON
) -> None:
    """Import units from CSV or XLSX: code,name,parent_code,level[,tags,attrs,contacts] (upsert by code).

    Only the file's columns change; a blank cell keeps the stored value, `-` clears it.
    """
    c = ctx_of(ctx)
    hosts = parse_hosts(c.settings.webhook_hosts)
    units_file = read_units(file, hosts)  # parsed before the write lock is taken
    if dry_run:
        with c.read() as session:
            result = import_units(session, c.runtime.now(), acting(session, by), units_file, dry_run=True)
    else:
        with c.write() as session, progress_bar("importing units", not json) as progress:
            result = import_units(session, c.runtime.now(), acting(session, by), units_file, progress)
    if json:
        emit_json(result.to_json())
        return
    for change in result.to_json().get("changes", []):
        out.print(_unit_change(change), markup=False, highlight=False)
    out.print(
        f"units{' (dry run, nothing changed)' if dry_run else ''}: {result.created} created, "
        f"{result.updated} updated, {result.moved} moved, {result.unchanged} unchanged"
    )


def _unit_change(change: dict) -> str:
    words = ["create" if change["created"] else "update"] if change["created"] or change["fields"] else []
    if change["fields"]:
        words[-1] += " " + ", ".join(change["fields"])
    if "moved" in change:
        moved = change["moved"]
        words.append(f"move from {moved['from'] or '(top level)'} to {moved['to'] or '(top level)'}")
    return f"{change['code']}: " + "; ".join(words)


@people_app.command("import")
@refusals
def people_import(ctx: typer.Context, file: Path, dry_run: bool = DRY_RUN, json: bool = JSON) -> None:
    """Import people from CSV or XLSX: id,name,unit_code,kind[,appointed_on,birthday] (upsert by id).

    Only the file's columns change; a blank cell keeps the stored value, `-` clears it.
    """
    c = ctx_of(ctx)
    people_file = read_people(file)  # parsed before the write lock is taken
    if dry_run:
        with c.read() as session:
            result = import_people(session, c.runtime.now(), OPERATOR, people_file, dry_run=True)
    else:
        with c.write() as session:
            result = import_people(session, c.runtime.now(), OPERATOR, people_file)
            # A new or changed appointment is heard at once, by the assignments that listen.
            result["events_posted"] = post_people_events(session, c.runtime, OPERATOR)
    if json:
        emit_json(result)
        return
    for change in result.get("changes", []):
        out.print(_unit_change({"code": change["id"], **change}), markup=False, highlight=False)
    out.print(
        f"people{' (dry run, nothing changed)' if dry_run else ''}: {result['created']} created, "
        f"{result['updated']} updated, {result['unchanged']} unchanged"
        + (f", {result['events_posted']} events posted" if result.get("events_posted") else "")
    )


@accounts_app.command("add")
@refusals
def accounts_add(
    ctx: typer.Context,
    name: str,
    unit: str = typer.Option(..., "--unit", help="The unit's code."),
    role: str = typer.Option(..., "--role", help="admin, staff or viewer."),
    email: str = typer.Option(None, "--email", help="Also send this account's notices by email."),
    json: bool = JSON,
) -> None:
    """Add an account; the password is read from stdin."""
    c = ctx_of(ctx)
    password = (
        sys.stdin.readline().rstrip("\r\n")
        if not sys.stdin.isatty()
        else typer.prompt("password", hide_input=True, confirmation_prompt=True)
    )
    prepared = NewPassword.of(password)  # hashed before the write transaction opens
    with c.write() as session:
        account = add_account(session, c.runtime.now(), OPERATOR, name, unit, role, prepared, email)
    if json:
        emit_json({"name": account.name, "unit": unit, "role": account.role})
    else:
        out.print(f"account {account.name} added ({account.role} of {unit})")


@definitions_app.command("check")
@refusals
def definitions_check(ctx: typer.Context, paths: list[Path], json: bool = JSON) -> None:
    """Validate definition files or folders; change nothing."""
    loaded = load_paths(paths)
    if json:
        emit_json([{"id": d.definition.id, "file": d.path, "digest": d.digest} for d in loaded])
    else:
        out.print(f"{len(loaded)} definitions are valid")


@definitions_app.command("load")
@refusals
def definitions_load(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(None, help="Definition files or folders."),
    builtin: bool = typer.Option(
        False, "--builtin", help="Load the seed plan shipped with duban (see `definitions path`)."
    ),
    owner: str = typer.Option(
        None,
        "--owner",
        help="The union that owns the definitions (default: the top-level union); "
        "its admins and those above it publish later versions.",
    ),
    json: bool = JSON,
) -> None:
    """Validate every file given, then store them all (changed files as new versions) or nothing."""
    c = ctx_of(ctx)
    paths = [*(paths or []), *([seed_definitions()] if builtin else [])]
    if not paths:
        fail("give definition files or folders, or --builtin for the shipped seed plan", code=2)
    loaded = load_paths(paths)
    with c.write() as session:
        stored = catalog.store_definitions(session, c.runtime.now(), OPERATOR, loaded, owner_code=owner)
    if json:
        emit_json([s.to_json() for s in stored])
        return
    counts = {k: sum(1 for s in stored if s.status == k) for k in ("new", "updated", "unchanged")}
    out.print(
        f"definitions: {counts['new']} new, {counts['updated']} updated, {counts['unchanged']} unchanged"
    )


@definitions_app.command("path")
def definitions_path() -> None:
    """Print the folder of the seed plan shipped with duban."""
    typer.echo(str(seed_definitions()))


@definitions_app.command("list")
@refusals
def definitions_list(ctx: typer.Context, json: bool = JSON) -> None:
    """The stored definitions, newest version of each."""
    c = ctx_of(ctx)
    with c.read() as session:
        rows = catalog.list_definitions(session)
    if json:
        emit_json([{"id": r.def_id, "version": r.version, "title": r.title} for r in rows])
        return
    table = Table("id", "version", "title")
    for r in rows:
        table.add_row(shown(r.def_id), str(r.version), shown(r.title))
    out.print(table)


@contacts_app.command("set")
@refusals
def contacts_set(
    ctx: typer.Context,
    code: str,
    email: list[str] = typer.Option([], "--email", help="An email address (repeatable)."),
    webhook: list[str] = typer.Option(
        [], "--webhook", help="KIND=URL[#SECRET], KIND generic|wecom|dingtalk."
    ),
    json: bool = JSON,
) -> None:
    """Set where a unit's notices go (replaces what was there)."""
    c = ctx_of(ctx)
    with c.write() as session:
        saved = set_contacts(
            session, c.runtime.now(), OPERATOR, code, email, webhook, parse_hosts(c.settings.webhook_hosts)
        )
    if json:
        emit_json(saved)
    else:
        out.print(f"{shown(code)}: {len(saved['email'])} email, {len(saved['webhooks'])} webhooks")


@calendar_app.command("status")
@refusals
def calendar_status(ctx: typer.Context, json: bool = JSON) -> None:
    """The years the calendar knows, and a warning before a year ends without the next."""
    c = ctx_of(ctx)
    rt = c.runtime
    status = rt.calendar.status(rt.local(rt.now()).date())
    if json:
        emit_json(status.to_json())
        return
    doc = status.to_json()
    out.print("known years: " + ", ".join(str(y) for y in doc["known_years"]))
    for warning in doc.get("warnings", []):
        out.print(f"[yellow]warning:[/] {warning}")
    if not doc.get("warnings"):
        out.print("ok")


__all__ = ["fail", "register"]
