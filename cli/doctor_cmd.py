"""`duban doctor`: a deployment checked (settings, database, transports, units nobody hears, the calendar)."""

from __future__ import annotations

import typer

from duban.cli.context import JSON, ctx_of, emit_json, out, refusals

MARK = {"error": "[red]✗ 错误 error[/]", "warning": "[yellow]! 提醒 warning[/]", "ok": "[green]✓ 正常 ok[/]"}


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


@refusals
def doctor(ctx: typer.Context, json: bool = JSON) -> None:
    """Check a deployment: settings, transports, units nobody hears, the calendar.

    Exit status 1 when a finding is an error.
    """
    from rich.markup import escape

    from duban.doctor import diagnose, summary

    c = ctx_of(ctx)
    findings = diagnose(c.settings, c.engine, c.runtime)
    doc = summary(findings)
    if json:
        emit_json(doc)
    else:
        for f in findings:
            out.print(f"{MARK[f.level]}  {escape(f.zh)}\n        {escape(f.en)}")
        out.print(f"{doc['errors']} errors, {doc['warnings']} warnings")
    if doc["errors"]:
        raise typer.Exit(1)
