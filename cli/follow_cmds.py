"""Following the work from the command line: a unit's 督办 list and an account's inbox."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from duban.cli.context import JSON, ctx_of, emit_json, out, refusals, shown

supervision_app = typer.Typer(help="督办: the late work escalated to a unit.", no_args_is_help=True)
inbox_app = typer.Typer(help="An account's in-app notices.", no_args_is_help=True)
PAGE = 500


def register(app: typer.Typer) -> None:
    app.add_typer(supervision_app, name="supervision")
    app.add_typer(inbox_app, name="inbox")


def _local(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M") if iso else ""


@supervision_app.command("list")
@refusals
def supervision_list(
    ctx: typer.Context,
    unit: str = typer.Option(..., "--unit", help="The unit whose 督办 list to show."),
    json: bool = JSON,
) -> None:
    """Unfinished tasks escalated to the unit, soonest due first."""
    from duban.engine.access.actors import OPERATOR
    from duban.engine.glossary import label
    from duban.engine.overview.tasks import supervision_list as listed

    c = ctx_of(ctx)
    with c.read() as session:
        rows = listed(session, c.runtime.tz, OPERATOR, unit)
    if json:
        emit_json(rows)
        return
    table = Table("task", "unit", "definition", "subject", "period", "state", "due", "督办 since")
    for t in rows:
        table.add_row(
            str(t["id"]),
            shown(t["unit_code"]),
            shown(t["definition_id"]),
            shown(t.get("subject") or ""),
            shown(t.get("period") or ""),
            label(f"state.{t['state']}"),
            _local(t.get("due_at")),
            _local(t.get("supervised_since")),
        )
    out.print(table)
    out.print(f"{len(rows)} tasks escalated to {unit}")


@inbox_app.command("list")
@refusals
def inbox_list(
    ctx: typer.Context,
    account: str = typer.Option(..., "--account", help="The account whose inbox to show."),
    unread: bool = typer.Option(False, "--unread", help="Only notices not yet read."),
    json: bool = JSON,
) -> None:
    """An account's in-app notices, newest first (reading them here marks nothing read)."""
    from duban.engine.access.actors import actor_for
    from duban.engine.glossary import label
    from duban.engine.overview.lookups import list_inbox

    c = ctx_of(ctx)
    items: list[dict] = []
    with c.read() as session:
        actor = actor_for(session, account)
        while True:
            page = list_inbox(session, c.runtime.tz, actor, unread, PAGE, len(items))
            items += page["items"]
            if len(items) >= page["total"] or not page["items"]:
                break
    if json:
        emit_json({"account": account, "unread": page["unread"], "items": items})
        return
    table = Table("id", "when", "kind", "task", "read")
    for i in items:
        table.add_row(
            str(i["id"]),
            _local(i["created_at"]),
            label(f"kind.{i['kind']}"),
            str(i["task_id"]),
            _local(i["read_at"]),
        )
    out.print(table)
    out.print(f"{len(items)} notices, {page['unread']} unread")
