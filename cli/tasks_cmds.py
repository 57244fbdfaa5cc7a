"""Working on tasks from the command line: list, submit, approve, reject, waive, extend, urge."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from duban.cli.assignments_cmds import parse_date
from duban.cli.context import (
    BY,
    JSON,
    Context,
    acting,
    ctx_of,
    emit_json,
    fail,
    parse_instant,
    parse_json_object,
    refusals,
    shown,
)
from duban.engine.overview.tasks import TaskFilter, list_tasks, task_summary
from duban.engine.store.models import Task
from duban.engine.work import lifecycle
from duban.engine.work.attachments import store_files

out = Console()
tasks_app = typer.Typer(help="Tasks: list them and move them along.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(tasks_app, name="tasks")


@tasks_app.command("list")
@refusals
def tasks_list(
    ctx: typer.Context,
    unit: str = typer.Option(None, "--unit"),
    subtree: bool = typer.Option(False, "--subtree", help="Include the unit's whole subtree."),
    state: str = typer.Option(None, "--state"),
    overdue: bool = typer.Option(None, "--overdue/--not-overdue"),
    definition: str = typer.Option(None, "--definition"),
    now: str = typer.Option(None, "--now", help="Judge 'overdue' at this instant."),
    limit: int = typer.Option(50, "--limit"),
    offset: int = typer.Option(0, "--offset"),
    by: str = BY,
    json: bool = JSON,
) -> None:
    """Tasks, most urgent first."""
    c = ctx_of(ctx)
    rt = c.runtime
    instant = parse_instant(now, "--now") if now else rt.now()
    with c.read() as session:
        page = list_tasks(
            session,
            instant,
            rt.tz,
            acting(session, by),
            TaskFilter(unit, subtree, state, overdue, definition, limit, offset),
        )
    if json:
        emit_json(page)
        return
    table = Table("id", "definition", "unit", "period", "state", "due", "esc.", "progress")
    for t in page["items"]:
        late = (
            t["state"] in ("open", "submitted") and t["overdue_at"] <= instant.astimezone(rt.tz).isoformat()
        )
        due = f"[red]{t['due_at'][:16]}[/]" if late else t["due_at"][:16]
        progress = f"{t['progress']:g}/{t['target']:g}" if t["target"] else ""
        table.add_row(
            str(t["id"]),
            shown(t["definition_id"]),
            shown(t["unit_code"]),
            shown(t["period"] or ""),
            t["state"],
            due,
            str(t["escalation_level"] or ""),
            progress,
        )
    out.print(table)
    out.print(f"{len(page['items'])} of {page['total']}")


def _show(c: Context, task: Task, json: bool, verb: str) -> None:
    with c.read() as session:
        doc = task_summary(session, c.runtime.tz, task.id)
    if json:
        emit_json(doc)
    else:
        out.print(f"task {doc['id']} {verb}: now {doc['state']} (due {doc['due_at']})")


@tasks_app.command("submit")
@refusals
def tasks_submit(
    ctx: typer.Context,
    task_id: int,
    by: str = typer.Option(..., "--by"),
    form: str = typer.Option(None, "--form", help="The form's fields as a JSON object."),
    file: list[Path] = typer.Option(
        [], "--file", help="An evidence file; LABEL=PATH to label it (repeatable)."
    ),
    progress: float = typer.Option(
        None, "--progress", help="The increment achieved towards a numeric target (negative to correct)."
    ),
    progress_total: float = typer.Option(
        None, "--progress-total", help="The unit's own new total, replacing what it reported."
    ),
    json: bool = JSON,
) -> None:
    """Submit evidence (or report progress) for a task of one's own unit."""
    c = ctx_of(ctx)
    values = parse_json_object(form, "--form") or {}
    uploads = []
    for item in file:
        label, sep, raw = str(item).partition("=")
        path = Path(raw) if sep else item
        if not path.is_file():
            fail(f"--file: {path}: no such file")
        uploads.append((path, label if sep else None))
    with ExitStack() as opened:
        stored = store_files(
            c.runtime, [(opened.enter_context(p.open("rb")), p.name, lb) for p, lb in uploads]
        )
    with c.write() as session:
        task = lifecycle.submit_task(
            session,
            c.runtime,
            acting(session, by),
            task_id,
            form=values,
            files=stored,
            progress=progress,
            progress_total=progress_total,
        )
    _show(c, task, json, "submitted")


def _simple(action: str, verb: str):  # type: ignore[no-untyped-def]
    @refusals
    def command(
        ctx: typer.Context,
        task_id: int,
        by: str = typer.Option(..., "--by"),
        reason: str = typer.Option("", "--reason"),
        json: bool = JSON,
    ) -> None:
        c = ctx_of(ctx)
        with c.write() as session:
            service = getattr(lifecycle, f"{action}_task")
            task = service(session, c.runtime, acting(session, by), task_id, reason)
        _show(c, task, json, verb)

    command.__doc__ = {
        "approve": "Approve a submission (the current step of its approval chain).",
        "reject": "Send a submission back with a reason.",
        "waive": "Let a task go (the issuer), with a reason.",
        "urge": "催办: send a manual reminder from above.",
    }[action]
    return command


@tasks_app.command("extend")
@refusals
def tasks_extend(
    ctx: typer.Context,
    task_id: int,
    by: str = typer.Option(..., "--by"),
    due: str = typer.Option(..., "--due", help="The new due date (YYYY-MM-DD)."),
    reason: str = typer.Option("", "--reason"),
    json: bool = JSON,
) -> None:
    """Give a task a new due date; reminders and escalations are recomputed."""
    c = ctx_of(ctx)
    new_due = parse_date(due, "--due")
    if new_due is None:
        fail("--due is required to extend a task", code=2)
    with c.write() as session:
        task = lifecycle.extend_task(session, c.runtime, acting(session, by), task_id, new_due, reason)
    _show(c, task, json, "extended")


for _action, _verb in [
    ("approve", "approved"),
    ("reject", "rejected"),
    ("waive", "waived"),
    ("urge", "urged"),
]:
    tasks_app.command(_action)(_simple(_action, _verb))
