"""`duban demo`: a city's union tree, the seed's plan as definitions, a few weeks of follow-up, then the server.

Everything goes through the same services an operator uses; the demo only picks the
inputs: a generated tree, the seed plan shipped with duban (`duban definitions path`), a handful of assignments
and events, and a sweep on a replayed clock.
"""

from __future__ import annotations

import csv
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy import func, select

from duban.cli.context import Context, ctx_of, refusals
from duban.cli.demo_story import ACCOUNTS, PEOPLE, Story
from duban.engine.access.accounts import NewPassword, add_account
from duban.engine.access.actors import OPERATOR, actor_for
from duban.engine.followup.delivery import deliver_outbox
from duban.engine.language.loader import load_paths
from duban.engine.org.people import import_people
from duban.engine.org.units import import_units
from duban.engine.overview.reports import rollup
from duban.engine.periodic import run_periodic
from duban.engine.runtime import Runtime
from duban.engine.store import schema
from duban.engine.store.models import Account, Assignment
from duban.engine.time.clock import FixedClock
from duban.engine.work import fanout
from duban.engine.work.catalog import store_definitions
from duban.seed import seed_definitions

out = Console()
DEMO_PASSWORD = "duban-demo"
ASSIGNMENTS = [
    ("member-congress-annual", "C01"),
    ("double-display", "C01"),
    ("cadre-onboarding-training", "C01"),
    ("non-public-union-organising", "C01"),
    ("ankang-cup-contest", "C01"),
    ("group-incident-report", "C01"),
    ("membership-transfer-acceptance", "C01"),
]
# (day of the replay, event, unit, subject, what it is in words): late work for the sweep to remind
# about and escalate. Events about people are named by the person; the incident by its label.
EVENTS = [
    (0, "cadre.appointed", "K01T01G01", "cadre-001", ""),
    (3, "incident.reported", "K01T02G01", "incident-001", "某电子厂欠薪集体反映"),
    (10, "membership.transfer_requested", "K02T01G03", "member-0042", ""),
    (20, "membership.transfer_requested", "K03T02G02", "member-0107", ""),
]
DAYS = 45


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo_tree(path: Path) -> int:
    """Write a city's tree: 3 districts, 4 streets each, 5 grassroots unions each, one branch each."""
    rows = [
        ["code", "name", "parent_code", "level", "tags", "attrs"],
        ["C01", "示范市总工会", "", "municipal", "", ""],
    ]
    kinds = [
        ("enterprise;non_public", "电子有限公司"),
        ("institution", "第一小学"),
        ("market;non_public", "商贸市场"),
        ("enterprise", "港务集团"),
        ("building;non_public", "商务楼宇"),
    ]
    for d in range(1, 4):
        district = f"K{d:02}"
        rows.append([district, f"第{d}区总工会", "C01", "county", "", ""])
        for t in range(1, 5):
            street = f"{district}T{t:02}"
            rows.append([street, f"第{d}区{t}街道工会", district, "township", "community", ""])
            for g, (tags, name) in enumerate(kinds, 1):
                code = f"{street}G{g:02}"
                rows.append(
                    [code, f"{d}区{t}街{name}工会", street, "grassroots", tags, f'{{"members": {40 * g}}}']
                )
                rows.append([f"{code}S1", f"{d}区{t}街{name}一分会", code, "sub", "", ""])
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return len(rows) - 1


@refusals
def demo(
    ctx: typer.Context,
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the web UI and API afterwards."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
) -> None:
    """A demo city with the seed's plan assigned, six weeks of follow-up replayed day by day, and the server."""
    c = ctx_of(ctx)
    if c.db_url is None:
        c.db_url = "sqlite:///duban-demo.db"
    engine = c.engine
    rt = c.runtime
    start = rt.now() - timedelta(days=DAYS)
    past = Runtime(FixedClock(start), rt.tz, rt.calendar, rt.reminder_time, rt.data_dir, rt.max_upload_bytes)
    schema.upgrade(engine)
    with c.read() as session:
        built = session.scalar(select(func.count()).select_from(Assignment)) > 0
    if built:
        out.print(f"the demo database {engine.url.database} exists already; delete it to build it anew")
    else:
        _build(c, start, past)
    if serve:
        from duban.cli.serve_cmd import run_server

        run_server(c, host, port, scheduler=True)


def _build(c: Context, start: datetime, past: Runtime) -> None:
    """The tree, the plan, the accounts, the assignments, and six weeks replayed."""
    engine, rt = c.engine, c.runtime
    prepared = NewPassword.of(DEMO_PASSWORD)  # one hash for every demo account, made outside the transaction
    with tempfile.TemporaryDirectory() as tmp, c.write() as session:
        tree_csv = Path(tmp) / "tree.csv"
        n = demo_tree(tree_csv)
        import_units(session, start, OPERATOR, tree_csv)
        stored = store_definitions(session, start, OPERATOR, load_paths([seed_definitions()]))
        for name, unit, role, _ in ACCOUNTS:
            if session.scalars(select(Account).where(Account.name == name)).first():
                continue
            add_account(session, start, OPERATOR, name, unit, role, prepared)
        people_csv = Path(tmp) / "people.csv"
        people_csv.write_text(PEOPLE.format(start=start.date().isoformat()), encoding="utf-8")
        import_people(session, start, OPERATOR, people_csv)
    out.print(f"tree: {n} units; definitions: {len(stored)}")
    created = 0
    with c.write() as session:
        city = actor_for(session, "city-admin")
        for def_id, scope in ASSIGNMENTS:
            targets = {"K01": 6, "K02": 4, "K03": 5} if def_id == "non-public-union-organising" else None
            created += fanout.assign_definition(session, past, city, def_id, scope, targets=targets).created
    out.print(f"assignments: {len(ASSIGNMENTS)}, tasks created: {created}")
    story = Story(engine, past, past.local(start).date())
    for day in range(DAYS + 1):
        past.clock.set(start + timedelta(days=day))  # type: ignore[attr-defined]
        story.act(day)
        todays = [e for e in EVENTS if e[0] == day]
        if todays:
            with c.write() as session:
                for _, name, unit, subject, label in todays:
                    fanout.post_event(
                        session,
                        past,
                        actor_for(session, "city-admin"),
                        name,
                        unit,
                        subject=subject,
                        label=label,
                    )
        run_periodic(engine, past)
        # The in-app inbox is delivered here (the demo's units have no e-mail or robots to send to).
        deliver_outbox(engine, past, {})
    with c.read() as session:
        report = rollup(session, rt.now(), OPERATOR, "C01")
    t = report["total"]
    out.print(
        f"C01 report: {t['tasks']} tasks, {t['done']} done, {t['overdue']} overdue, {t['escalated']} escalated"
    )
    out.print(f"sign in (password {DEMO_PASSWORD}):")
    for name, _, _, what in ACCOUNTS:
        out.print(f"  {name:<16} {what}")
