"""Running the follow-up: sweep, deliver, the outbox, and the demo."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from duban.bootstrap import delivery_options, transports
from duban.cli.context import JSON, ctx_of, emit_json, parse_instant, refusals, shown
from duban.engine.followup.delivery import deliver_outbox
from duban.engine.followup.outbox import list_outbox, retry_dead
from duban.engine.periodic import run_periodic

out = Console()
outbox_app = typer.Typer(help="Notices waiting to go out, sent, or dead.", no_args_is_help=True)
NOW = typer.Option(None, "--now", help="The clock for this run (same as the global --now).")


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
    app.command("deliver")(deliver)
    app.add_typer(outbox_app, name="outbox")


def _pin(ctx: typer.Context, now: str | None) -> None:
    if now:
        ctx_of(ctx).now = parse_instant(now, "--now")


@refusals
def sweep(ctx: typer.Context, now: str = NOW, json: bool = JSON) -> None:
    """Open new periods, give units that joined a scope their tasks, send due reminders and escalations."""
    _pin(ctx, now)
    c = ctx_of(ctx)
    result = run_periodic(c.engine, c.runtime).to_json()
    if json:
        emit_json(result)
        return
    opened, sample = result.pop("periods_opened"), result.pop("unheard_sample")
    unheard = result.pop("unheard_units")
    out.print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.items()), highlight=False)
    for p in opened:
        out.print(
            f"opened {p['definition_id']} {p['period']}: {p['created']} tasks (assignment {p['assignment_id']})",
            highlight=False,
            markup=False,
        )
    if unheard:
        more = ", ..." if unheard > len(sample) else ""
        out.print(
            f"warning: {unheard} units have notices nobody receives (no contact, no staff or admin account): "
            f"{', '.join(sample)}{more}",
            style="yellow",
            highlight=False,
            markup=False,
        )


@refusals
def deliver(ctx: typer.Context, now: str = NOW, json: bool = JSON) -> None:
    """Deliver the outbox: email, webhooks, WeCom, DingTalk and the in-app inbox, with retries."""
    _pin(ctx, now)
    c = ctx_of(ctx)
    rt = c.runtime
    result = deliver_outbox(
        c.engine, rt, transports(c.settings, rt.clock), **delivery_options(c.settings)
    ).to_json()
    if json:
        emit_json(result)
        return
    waiting = result.pop("waiting_no_transport")
    out.print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.items()), highlight=False)
    for channel, n in waiting.items():
        out.print(
            f"warning: {n} {channel} notices wait: no {channel} transport is configured"
            f"{' (set DUBAN_SMTP_HOST)' if channel == 'email' else ''}; they go out once it is",
            style="yellow",
            highlight=False,
            markup=False,
        )


@outbox_app.command("list")
@refusals
def outbox_list(
    ctx: typer.Context,
    status: str = typer.Option(None, "--status", help="pending, sent or dead."),
    limit: int = typer.Option(200, "--limit"),
    json: bool = JSON,
) -> None:
    """The outbox, newest first; dead letters are what an operator may retry."""
    c = ctx_of(ctx)
    with c.read() as session:
        rows = list_outbox(session, status, limit=limit)
    if json:
        emit_json(rows)
        return
    table = Table("id", "kind", "task", "unit", "channel", "status", "attempts", "last error")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["kind"],
            str(r["task_id"]),
            shown(r["unit_code"]),
            shown(r["channel"]),
            r["status"],
            str(r["attempts"]),
            shown((r.get("last_error") or "")[:60]),
        )
    out.print(table)


@outbox_app.command("retry")
@refusals
def outbox_retry(
    ctx: typer.Context,
    ids: list[int] = typer.Argument(None, help="Dead letters to retry; none means all of them."),
    json: bool = JSON,
) -> None:
    """Put dead letters back in the queue."""
    c = ctx_of(ctx)
    n = retry_dead(c.engine, c.runtime, ids or "all")
    emit_json({"requeued": n}) if json else out.print(f"{n} requeued")
