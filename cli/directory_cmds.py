"""Who and what is there: units listed, accounts listed, disabled, enabled, their passwords reset.

The commands join the `units` and `accounts` groups of setup_cmds; they act as the operator
unless --by names an admin (whose subtree then bounds what they see and change).
"""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from duban.cli.context import BY, JSON, acting, ctx_of, emit_json, fail, out, refusals, shown
from duban.cli.setup_cmds import accounts_app, units_app

PAGE = 500


def register(app: typer.Typer) -> None:
    """Nothing of its own: its commands are in the `units` and `accounts` groups."""


@units_app.command("list")
@refusals
def units_list(
    ctx: typer.Context,
    under: str = typer.Option(None, "--under", help="Only this unit's subtree (the unit included)."),
    level: str = typer.Option(None, "--level", help="Only units of this level (county, grassroots, ...)."),
    by: str = BY,
    json: bool = JSON,
) -> None:
    """The units of the tree (or of one subtree), in tree order, every one of them."""
    from duban.engine.glossary import label
    from duban.engine.overview.lookups import list_units

    c = ctx_of(ctx)
    items: list[dict] = []
    with c.read() as session:
        actor = acting(session, by)
        while True:
            page = list_units(session, actor, under, level, PAGE, len(items))
            items += page["items"]
            if len(items) >= page["total"] or not page["items"]:
                break
    if json:
        emit_json(items)
        return
    table = Table("code", "name", "level", "parent", "tags", "attrs")
    for u in items:
        indent = "  " * max(u["depth"] - (items[0]["depth"] if items else 0), 0)
        attrs = ", ".join(f"{k}={v}" for k, v in u["attrs"].items())
        table.add_row(
            indent + shown(u["code"]),
            shown(u["name"]),
            label(f"level.{u['level']}"),
            shown(u["parent_code"] or ""),
            shown(";".join(u["tags"])),
            shown(attrs),
        )
    out.print(table)
    out.print(f"{len(items)} units")


@accounts_app.command("list")
@refusals
def accounts_list(
    ctx: typer.Context,
    under: str = typer.Option(None, "--under", help="Only accounts of this unit's subtree."),
    by: str = BY,
    json: bool = JSON,
) -> None:
    """The accounts, by name: unit, role, whether active."""
    from duban.engine.access.admin import list_accounts

    c = ctx_of(ctx)
    with c.read() as session:
        rows = list_accounts(session, acting(session, by), under)
    if json:
        emit_json(rows)
        return
    table = Table("name", "unit", "role", "active", "email", "created")
    for r in rows:
        created = r["created_at"].astimezone(c.runtime.tz).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            shown(r["name"]),
            shown(r["unit"]),
            r["role"],
            "yes" if r["active"] else "no",
            shown(r["email"] or ""),
            created,
        )
    out.print(table)


def _set_active(ctx: typer.Context, name: str, by: str | None, json: bool, active: bool) -> None:
    from duban.engine.access.admin import set_active

    c = ctx_of(ctx)
    with c.write() as session:
        result = set_active(session, c.runtime.now(), acting(session, by), name, active)
    if json:
        emit_json(result)
    elif active:
        out.print(f"account {name} enabled")
    else:
        out.print(f"account {name} disabled; {result['tokens_revoked']} sign-ins revoked")


@accounts_app.command("disable")
@refusals
def accounts_disable(ctx: typer.Context, name: str, by: str = BY, json: bool = JSON) -> None:
    """Disable an account: it can no longer sign in, and every token it holds is revoked."""
    _set_active(ctx, name, by, json, active=False)


@accounts_app.command("enable")
@refusals
def accounts_enable(ctx: typer.Context, name: str, by: str = BY, json: bool = JSON) -> None:
    """Enable a disabled account again (it signs in anew)."""
    _set_active(ctx, name, by, json, active=True)


@accounts_app.command("reset-password")
@refusals
def accounts_reset_password(ctx: typer.Context, name: str, by: str = BY, json: bool = JSON) -> None:
    """Set a new password, read from stdin; the account's tokens are revoked."""
    from duban.engine.access.accounts import NewPassword
    from duban.engine.access.admin import reset_password

    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail(
            "give the new password on stdin, e.g. echo 'new-pass-123' | duban accounts reset-password NAME",
            code=2,
        )
    c = ctx_of(ctx)
    prepared = NewPassword.of(password)  # hashed before the write transaction opens
    with c.write() as session:
        result = reset_password(session, c.runtime.now(), acting(session, by), name, prepared)
    if json:
        emit_json(result)
    else:
        out.print(f"password of {name} reset; {result['tokens_revoked']} sign-ins revoked")
