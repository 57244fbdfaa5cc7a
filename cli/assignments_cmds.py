"""Assigning work and watching it: assign, assignments, targets, events, preview, report."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from duban.cli.context import (
    BY,
    JSON,
    acting,
    ctx_of,
    emit_json,
    fail,
    parse_instant,
    parse_json_object,
    refusals,
    shown,
)
from duban.engine.errors import InvalidInput, Problem
from duban.engine.language.loader import load_paths
from duban.engine.language.plans import find_plan, load_plans
from duban.engine.org.sheets import read_rows
from duban.engine.overview import reports, workbook
from duban.engine.work import catalog, fanout, plans
from duban.engine.work.targets import split_target
from duban.seed import seed_plans

out = Console()
assignments_app = typer.Typer(help="Assignments of definitions to subtrees.", no_args_is_help=True)
targets_app = typer.Typer(help="Numeric targets.", no_args_is_help=True)
events_app = typer.Typer(help="Events that create tasks.", no_args_is_help=True)
plans_app = typer.Typer(help="Plans: the documents whose items are assigned together.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("assign")(assign)
    app.add_typer(assignments_app, name="assignments")
    app.add_typer(targets_app, name="targets")
    app.add_typer(events_app, name="events")
    app.add_typer(plans_app, name="plans")
    app.command("preview")(preview)
    app.command("report")(report)


def parse_date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {text!r} is not a date (YYYY-MM-DD)", code=2)


def read_targets(path: Path) -> dict[str, float]:
    """A targets file: unit_code,value rows."""
    rows = read_rows(path, ["unit_code", "value"], [])
    values, problems = {}, []
    for row in rows:
        try:
            values[row.cells["unit_code"]] = float(row.cells["value"])
        except ValueError:
            problems.append(Problem(f"{path}:{row.line}", "value", f"{row.cells['value']!r} is not a number"))
    if problems:
        raise InvalidInput(problems)
    return values


@refusals
def assign(
    ctx: typer.Context,
    def_id: str = typer.Argument(None, help="The definition to assign (or --plan)."),
    scope: str = typer.Option(..., "--scope", help="The unit whose subtree gets the tasks."),
    plan: str = typer.Option(
        None, "--plan", help="Assign every item of a plan (an id from `plans list`, or a plan file) at once."
    ),
    due: str = typer.Option(
        None,
        "--due",
        help="A due date overriding the definition's (YYYY-MM-DD); with --plan, the date of the items "
        "whose plan leaves it to the assigner.",
    ),
    until: str = typer.Option(None, "--until", help="Last day of a recurring assignment."),
    targets: Path = typer.Option(None, "--targets", help="CSV/XLSX of unit_code,value."),
    late: str = typer.Option(
        None,
        "--late",
        help="If the definition's fixed date has passed: skip (open the next period) or grace:P30D.",
    ),
    by: str = BY,
    json: bool = JSON,
) -> None:
    """Assign a definition (or a whole plan) to a scope and create its tasks."""
    c = ctx_of(ctx)
    if (def_id is None) == (plan is None):
        fail("give a definition id or --plan, not both", code=2)
    if plan is not None:
        if targets:
            fail("--targets belongs to one definition, not to a plan", code=2)
        chosen = find_plan(plan, seed_plans())
        with c.write() as session:
            done = plans.assign_plan(
                session,
                c.runtime,
                acting(session, by),
                chosen.plan,
                scope,
                due=parse_date(due, "--due"),
                until=parse_date(until, "--until"),
                late=fanout.late_rule(late),
            )
        if json:
            emit_json(done.to_json())
            return
        table = Table("definition", "assignment", "tasks", "period")
        for item in done.items:
            table.add_row(
                shown(item["definition"]),
                str(item["assignment_id"]),
                str(item["created"]),
                item["period"] or "",
            )
        out.print(table)
        out.print(
            f"plan {shown(done.plan_id)}: {len(done.items)} items assigned to {shown(done.scope)}, "
            f"{done.created} tasks created"
        )
        return
    values = read_targets(targets) if targets else None
    late_rule = fanout.late_rule(late)
    with c.write() as session:
        result = fanout.assign_definition(
            session,
            c.runtime,
            acting(session, by),
            def_id,
            scope,
            due=parse_date(due, "--due"),
            until=parse_date(until, "--until"),
            targets=values,
            late=late_rule,
        )
    if json:
        emit_json(result.to_json())
    else:
        period = f" for {result.period}" if result.period else ""
        out.print(f"assignment {result.assignment_id}: {result.created} tasks created{period}")
        if result.late:
            out.print(f"  {late_note(result.late, result.due_at)}")


def late_note(late: dict[str, object], due_at: str | None) -> str:
    """One line saying that the fixed date had passed and what the tasks got instead."""
    if late["rule"] == "skip":
        return f"the date {late['missed_due']} had passed: the next period's tasks were opened instead"
    due = f", due {due_at[:10]}" if due_at else ""
    days = re.fullmatch(r"P(\d+)D", str(late["grace"]))
    grace = f"{days[1]} days" if days else str(late["grace"])
    return f"the date {late['missed_due']} had passed: {grace} of grace from the assignment{due}"


@plans_app.command("list")
@refusals
def plans_list(
    ctx: typer.Context,
    folder: Path = typer.Argument(
        None, help="A folder of plan files (default: the plans shipped with duban)."
    ),
    json: bool = JSON,
) -> None:
    """The plans: id, title, source document, year and items."""
    found = load_plans(folder or seed_plans())
    rows = [
        {
            "id": p.plan.id,
            "title": p.plan.title,
            "title_en": p.plan.english_title,
            "source_document": p.plan.source_document,
            "year": p.plan.year,
            "items": p.plan.items,
            "file": p.path,
        }
        for p in found
    ]
    if json:
        emit_json(rows)
        return
    table = Table("id", "title", "year", "items", "source document")
    for r in rows:
        table.add_row(
            shown(r["id"]),
            shown(r["title"]),
            str(r["year"] or ""),
            str(len(r["items"])),
            shown(r["source_document"]),
        )
    out.print(table)


@assignments_app.command("list")
@refusals
def assignments_list(ctx: typer.Context, by: str = BY, json: bool = JSON) -> None:
    """Assignments visible to the actor."""
    c = ctx_of(ctx)
    with c.read() as session:
        rows = fanout.list_assignments(session, acting(session, by))
    if json:
        emit_json(rows)
        return
    table = Table("id", "definition", "scope", "state", "trigger", "period", "due", "until")
    for r in rows:
        table.add_row(
            str(r["id"]),
            shown(r["definition_id"]),
            shown(r["scope"] or ""),
            r["state"],
            shown(r["trigger"]),
            shown(r["last_period"] or ""),
            r["due"] or "",
            r["until"] or "",
        )
    out.print(table)


@assignments_app.command("withdraw")
@refusals
def assignments_withdraw(
    ctx: typer.Context,
    assignment_id: int,
    reason: str = typer.Option("", "--reason"),
    by: str = BY,
    json: bool = JSON,
) -> None:
    """Withdraw an assignment; its unfinished tasks are cancelled."""
    c = ctx_of(ctx)
    with c.write() as session:
        n = fanout.withdraw_assignment(session, c.runtime, acting(session, by), assignment_id, reason)
    emit_json({"assignment_id": assignment_id, "cancelled": n}) if json else out.print(
        f"withdrawn; {n} tasks cancelled"
    )


@targets_app.command("split")
@refusals
def targets_split(
    ctx: typer.Context,
    assignment_id: int,
    file: Path,
    unit: str = typer.Option(..., "--unit"),
    by: str = BY,
    json: bool = JSON,
) -> None:
    """Split a unit's target among its children (unit_code,value rows adding up to at least the target)."""
    c = ctx_of(ctx)
    shares = read_targets(file)
    with c.write() as session:
        split_target(session, c.runtime, acting(session, by), assignment_id, unit, shares)
    emit_json({"assignment_id": assignment_id, "unit": unit, "shares": shares}) if json else out.print(
        f"{unit}: target split among {len(shares)} units"
    )


@events_app.command("post")
@refusals
def events_post(
    ctx: typer.Context,
    name: str,
    unit: str = typer.Option(..., "--unit"),
    subject: str = typer.Option("", "--subject", help="Whom the event is about (a cadre's or member's id)."),
    label: str = typer.Option(
        "", "--label", help="What it is, in words, when not about a person (shown with its tasks)."
    ),
    at: str = typer.Option(None, "--at", help="When it happened (ISO-8601; default now)."),
    data: str = typer.Option(None, "--data", help="A JSON object carried with the event."),
    by: str = BY,
    json: bool = JSON,
) -> None:
    """Post an event; every active assignment listening for it whose scope holds the unit creates a task."""
    c = ctx_of(ctx)
    payload = parse_json_object(data, "--data")
    when = parse_instant(at, "--at") if at else None
    with c.write() as session:
        created = fanout.post_event(
            session,
            c.runtime,
            acting(session, by),
            name,
            unit,
            subject=subject,
            label=label,
            at=when,
            data=payload,
        )
    emit_json({"event": name, "unit": unit, "tasks": created}) if json else out.print(
        f"{name} at {unit}: {len(created)} tasks created"
    )


@refusals
def preview(
    ctx: typer.Context,
    definition: str = typer.Argument(..., metavar="DEF_ID_OR_FILE"),
    at: str = typer.Option(..., "--at", help="The trigger instant (ISO-8601 with offset)."),
    due: str = typer.Option(None, "--due", help="An explicit due date, as an assignment would give."),
    late: str = typer.Option(None, "--late", help="An assignment's late rule: skip or grace:P30D."),
    json: bool = JSON,
) -> None:
    """The timeline of one task triggered at --at: due, overdue, reminders and escalations."""
    c = ctx_of(ctx)
    rt = c.runtime
    if Path(definition).suffix in (".yaml", ".yml") or Path(definition).is_file():
        defn = load_paths([Path(definition)])[0].definition
    else:
        with c.read() as session:
            defn = catalog.definition_of(catalog.latest_version(session, definition))
    opening = fanout.first_opening(
        rt, defn, parse_instant(at, "--at"), parse_date(due, "--due"), fanout.late_rule(late)
    )
    timeline, period = opening.timeline, opening.period
    doc = timeline.to_json()
    if period is not None:
        doc["period"] = period.label
    doc["defaults"] = list(defn.defaults)
    if json:
        emit_json(doc)
        return
    out.print(f"[bold]{shown(defn.id)}[/] — {shown(defn.title)}")
    for key in ("period", "window_opens_at", "trigger_at", "due_at", "overdue_at"):
        if doc.get(key):
            out.print(f"  {key:12} {doc[key]}")
    if doc["due_moved_from"]:
        out.print(f"  moved from   {doc['due_moved_from']} (a rest day; on_rest_day: keep opts out)")
    if doc["late_assignment"]:
        out.print(f"  [yellow]{late_note(doc['late_assignment'], doc['due_at'])}[/]")
    for r in doc["reminders"]:
        out.print(f"  reminder     {r}")
    for e in doc["escalations"]:
        out.print(f"  escalation   {e['at']} → {e['to']} (level {e['level']})")
    if defn.defaults:
        out.print(
            f"  建议 default  {', '.join(defn.defaults)} (the office's suggestion, not the plan's words)"
        )
    if doc.get("calendar_provisional"):
        out.print("  [yellow]provisional: the calendar does not know a year this timeline reaches[/]")


@refusals
def report(
    ctx: typer.Context,
    code: str,
    definition: str = typer.Option(None, "--definition"),
    period: str = typer.Option(
        None, "--period", help="Only tasks of this period: 2026, 2026-H1, 2026-Q1, 2026-03 or 2026-W10."
    ),
    plan: str = typer.Option(
        None, "--plan", help="Only the assignments made with this plan (assign --plan)."
    ),
    xlsx: Path = typer.Option(None, "--xlsx", help="Also write the report as an XLSX file."),
    by: str = BY,
    json: bool = JSON,
) -> None:
    """Roll-up of a unit's subtree: one row per child unit and per definition."""
    c = ctx_of(ctx)
    with c.read() as session:
        doc = reports.rollup(
            session, c.runtime.now(), acting(session, by), code, definition, period, c.runtime.tz, plan=plan
        )
    if xlsx:
        xlsx.write_bytes(workbook.rollup_workbook(doc))
    if json:
        emit_json(doc)
        return
    table = Table("code", "name", "tasks", "done", "open", "submitted", "overdue", "escalated", "done %")
    for r in doc["children"]:
        table.add_row(
            shown(r["code"]),
            shown(r["name"]),
            str(r["tasks"]),
            str(r["done"]),
            str(r["open"]),
            str(r["submitted"]),
            str(r["overdue"]),
            str(r["escalated"]),
            "" if r["done_pct"] is None else f"{r['done_pct']}",
        )
    scope = f", period {shown(period)}" if period else ""
    scope += f", plan {shown(doc['plan'])}" if doc.get("plan") else ""
    out.print(
        f"[bold]{shown(doc['unit']['name'])}[/] ({shown(doc['unit']['code'])}) as of {doc['as_of']}{scope}"
    )
    out.print(table)
    t = doc["total"]
    out.print(
        f"total: {t['tasks']} tasks, {t['done']} done, {t['overdue']} overdue, {t['escalated']} escalated"
    )
