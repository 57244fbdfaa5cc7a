"""Tasks: the caller's to-do, lists with filters, one task with its audit log, and every move of its life."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from duban.api.deps import Api, oauth2
from duban.api.docs import PAGE_EXAMPLE, TASK_EXAMPLE, ok
from duban.engine.access import sessions
from duban.engine.errors import InvalidInput, Problem
from duban.engine.overview import tasks
from duban.engine.store.db import read_session
from duban.engine.store.models import Task
from duban.engine.work import lifecycle
from duban.engine.work.attachments import StoredFile, store_files

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the task's id")]
MOVED = {
    "id": 7,
    "state": "submitted",
    "progress": 0.0,
    "target": None,
    "escalation_level": 0,
    "due_at": "2026-12-31T23:59:59.999999+08:00",
}


class Reason(BaseModel):
    """Why (required to reject or waive)."""

    reason: str = Field(default="", max_length=2000)


class Extension(BaseModel):
    """The new due date, and why."""

    due: date
    reason: str = Field(default="", max_length=2000)


def moved(ctx: Api, task: Task) -> dict[str, Any]:
    """The task's state after a move."""
    return {
        "id": task.id,
        "state": task.state,
        "progress": task.progress,
        "target": task.target,
        "escalation_level": task.escalation_level,
        "due_at": ctx.rt.local(task.due_at).isoformat(),
    }


@router.get(
    "",
    summary="My to-do, or a filtered task list",
    description="Without filters: the caller's own unit's unfinished tasks, most urgent first. With `unit` "
    "(a unit in the caller's subtree, else 404), `subtree`, `state`, `overdue` or `definition`: the matching tasks "
    "the caller may see. Paged with `limit` (1–500) and `offset`; `total` counts them all.",
    responses=ok(PAGE_EXAMPLE),
)
async def list_(
    request: Request,
    token: Annotated[str | None, Depends(oauth2)],
    unit: Annotated[str | None, Query(max_length=64)] = None,
    subtree: bool = False,
    state: Annotated[str | None, Query(max_length=16)] = None,
    overdue: bool | None = None,
    definition: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    f = tasks.TaskFilter(
        unit=unit,
        subtree=subtree,
        state=state,
        overdue=overdue,
        definition=definition,
        limit=limit,
        offset=offset,
    )
    # Every branch's home page asks for this: the caller is checked and the page read in one worker thread
    # with one session, instead of a thread and a session for the caller and another pair for the page.
    return await run_in_threadpool(_page, request, token, f)


def _page(request: Request, token: str | None, f: tasks.TaskFilter) -> Response:
    state = request.app.state
    rt = state.runtime
    with read_session(state.engine) as s:
        actor = sessions.verify_token(s, rt.now(), token)
        if f == tasks.TaskFilter(limit=f.limit, offset=f.offset) and actor.unit_id is not None:
            page = tasks.todo(s, rt.now(), rt.tz, actor, f.limit, f.offset)
        else:
            page = tasks.list_tasks(s, rt.now(), rt.tz, actor, f)
    # The page is plain JSON already: answered as it is, not walked again by FastAPI's encoder and a response model.
    return Response(orjson.dumps(page), media_type="application/json")


@router.get(
    "/{task_id}",
    summary="One task with its form, files and audit log",
    description="A task of a unit in the caller's subtree; any other answers 404.",
    responses=ok(
        TASK_EXAMPLE
        | {
            "form": {},
            "files": [],
            "audit": [
                {
                    "at": "2026-03-02T09:00:00+08:00",
                    "actor": "k01-admin",
                    "action": "task.created",
                    "payload": {},
                }
            ],
        }
    ),
)
def show(ctx: Api, task_id: TaskId) -> dict[str, Any]:
    with ctx.read() as s:
        return tasks.show_task(s, ctx.rt.tz, ctx.actor, task_id)


def _form(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput([Problem("request", "form", f"not JSON: {exc}")]) from None
    except RecursionError:
        raise InvalidInput([Problem("request", "form", "nested too deeply")]) from None
    if not isinstance(value, dict):
        raise InvalidInput([Problem("request", "form", "a JSON object of field: value")])
    return value


Increment = Annotated[
    float,
    Form(
        ge=-1e12, le=1e12, allow_inf_nan=False, description="increment towards a target (negative corrects)"
    ),
]
Total = Annotated[
    float,
    Form(ge=0, le=1e12, allow_inf_nan=False, description="the unit's own total, replacing what it reported"),
]


@router.post(
    "/{task_id}/submit",
    summary="Submit the evidence (or report progress)",
    description="Multipart: `form` is a JSON object of the definition's form fields, `files` the evidence "
    "(PDF, images, Office files, recognised by content; each at most the deployment's `max_upload_mb`), "
    "`labels` one label per file (optional), `progress` the increment for a numeric target (negative to correct), or `progress_total` the unit's own new total. Staff or admin of the "
    "task's own unit only. A refused submission changes nothing.",
    responses=ok(MOVED, 400, 401, 403, 404, 409, 413, 422),
)
def submit(
    ctx: Api,
    task_id: TaskId,
    # Not Optional: multipart has no null, so the schema says "string" / "number" and the field may be left out.
    form: Annotated[str, Form(max_length=100_000, description="JSON object of the form's fields")] = "",
    progress: Increment = None,  # type: ignore[assignment]
    progress_total: Total = None,  # type: ignore[assignment]
    files: Annotated[list[UploadFile], File(description="evidence files")] = None,  # type: ignore[assignment]  # noqa: RUF013
    labels: Annotated[list[str], Form(description="one label per file")] = None,  # type: ignore[assignment]  # noqa: RUF013
) -> dict[str, Any]:
    values = _form(form)
    names = labels or []
    stored: list[StoredFile] = store_files(
        ctx.rt,
        [
            (f.file, f.filename or "file", names[i] if i < len(names) and names[i] else None)
            for i, f in enumerate(files or [])
        ],
    )
    with ctx.write() as s:
        task = lifecycle.submit_task(
            s,
            ctx.rt,
            ctx.actor,
            task_id,
            form=values,
            files=stored,
            progress=progress,
            progress_total=progress_total,
        )
        return moved(ctx, task)


@router.post(
    "/{task_id}/approve",
    summary="Approve the current approval step",
    description="An admin of the unit the definition's approval chain names at this step; never the "
    "submitter. The last step makes the task done.",
    responses=ok(MOVED | {"state": "done"}),
)
def approve(ctx: Api, task_id: TaskId, body: Reason | None = None) -> dict[str, Any]:
    with ctx.write() as s:
        return moved(ctx, lifecycle.approve_task(s, ctx.rt, ctx.actor, task_id, (body or Reason()).reason))


@router.post(
    "/{task_id}/reject",
    summary="Send a submission back with a reason",
    description="As approve; the task returns to `open` and its unit is notified.",
    responses=ok(MOVED | {"state": "open"}),
)
def reject(ctx: Api, task_id: TaskId, body: Reason) -> dict[str, Any]:
    with ctx.write() as s:
        return moved(ctx, lifecycle.reject_task(s, ctx.rt, ctx.actor, task_id, body.reason))


@router.post(
    "/{task_id}/waive",
    summary="Waive a task (the issuer)",
    description="An admin of the issuing unit or above lets an unfinished task go, with a reason.",
    responses=ok(MOVED | {"state": "waived"}),
)
def waive(ctx: Api, task_id: TaskId, body: Reason) -> dict[str, Any]:
    with ctx.write() as s:
        return moved(ctx, lifecycle.waive_task(s, ctx.rt, ctx.actor, task_id, body.reason))


@router.post(
    "/{task_id}/extend",
    summary="Give a task a new due date",
    description="An admin of a unit above the task's unit; reminders and escalations are recomputed and "
    "the task leaves the supervision lists.",
    responses=ok(MOVED),
)
def extend(ctx: Api, task_id: TaskId, body: Extension) -> dict[str, Any]:
    with ctx.write() as s:
        return moved(ctx, lifecycle.extend_task(s, ctx.rt, ctx.actor, task_id, body.due, body.reason))


@router.post(
    "/{task_id}/urge",
    summary="Urge (催办)",
    description="An admin of a unit above the task's unit sends a manual reminder; it is recorded.",
    responses=ok(MOVED),
)
def urge(ctx: Api, task_id: TaskId, body: Reason | None = None) -> dict[str, Any]:
    with ctx.write() as s:
        return moved(ctx, lifecycle.urge_task(s, ctx.rt, ctx.actor, task_id, (body or Reason()).reason))
