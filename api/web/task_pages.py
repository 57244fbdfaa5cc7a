"""One task as a guide (what to hand in, by when, what happened), its submission, and the moves on it.

Every move (approve, send back, urge, extend, waive, remove a file, and the batch moves of a
list) is posted twice: first to a confirmation page that says what will happen and changes
nothing, then with `confirmed=1`, which acts and redirects (a reload never repeats it).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, Response
from starlette.datastructures import UploadFile

from duban.api.deps import Ctx
from duban.api.errors import status_of
from duban.api.i18n import lang_of
from duban.api.web.assess_pages import award_quality_on_approval, quality_max
from duban.api.web.common import Caller, badge, page, posted, redirect, to_login
from duban.api.web.history import describe
from duban.api.web.refusals import as_context
from duban.engine.errors import DubanError, InvalidInput, Problem
from duban.engine.overview import lookups, tasks
from duban.engine.work import lifecycle
from duban.engine.work.attachments import ALLOWED, store_files

router = APIRouter()
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ACCEPT = ".pdf,.jpg,.jpeg,.png,.gif,.webp,.docx,.xlsx,.pptx,.zip,image/*,application/pdf"
# What each move needs besides the task: (field, required)
MOVES: dict[str, tuple[tuple[str, bool], ...]] = {
    "approve": (("quality", False),),
    "reject": (("reason", True),),
    "urge": (("reason", False),),
    "extend": (("due", True), ("reason", True)),
    "waive": (("reason", True),),
}
BATCH = ("approve", "urge")


def _task_context(ctx: Ctx, task_id: int, lang: str) -> dict[str, Any]:
    with ctx.read() as s:
        task = tasks.show_task(s, ctx.rt.tz, ctx.actor, task_id)
        definition = lookups.task_definition(s, ctx.actor, task_id)
        people = lookups.people_of(s, {e["actor"] for e in task["audit"]})
        approver = (
            task["id"] in tasks.awaiting_approval(s, ctx.actor) if task["state"] == "submitted" else False
        )
        quality = quality_max(s, task, definition) if approver else None
    task["badge"] = badge(ctx, task)
    completion = definition.get("completion") or {}
    history = [describe(e, people, lang) for e in task["audit"]]
    return {
        "task": task,
        "definition": definition,
        "completion": completion,
        "fields": _fields(completion, lang),
        "slots": _slots(completion),
        "history": history,
        "sent_back": _sent_back(task),
        "can_submit": task["state"] == "open"
        and ctx.actor.unit_code == task["unit_code"]
        and ctx.actor.role in ("admin", "staff"),
        "can_approve": approver,
        "quality_max": quality,
        "can_supervise": task["state"] in ("open", "submitted")
        and ctx.actor.role == "admin"
        and ctx.actor.unit_code != task["unit_code"],
        "max_mb": ctx.rt.max_upload_bytes // (1024 * 1024),
        "accept": ACCEPT,
        "images": {f["sha256"] for f in task["files"] if f["type"].startswith("image/")},
        "held": {f["label"]: f["name"] for f in task["files"] if f["label"]},
    }


def _fields(completion: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The form's fields with their labels in the reader's language (never the key when a label exists)."""
    out = []
    for name, spec in (completion.get("form") or {}).items():
        text = (spec.get("label_en") if lang == "en" else None) or spec.get("label") or name
        out.append({**spec, "name": name, "label": text})
    return out


def _slots(completion: dict[str, Any]) -> list[str]:
    """One upload slot per labelled attachment; one unlabelled slot otherwise."""
    spec = completion.get("attachments")
    if spec is None:
        return []
    return list(spec.get("labels") or []) or [""]


def _sent_back(task: dict[str, Any]) -> dict[str, Any] | None:
    """The latest send-back, while the task is open again because of it."""
    if task["state"] != "open":
        return None
    for e in reversed(task["audit"]):
        if e["action"] in ("task.submitted", "task.progressed"):
            return None
        if e["action"] == "task.rejected":
            return {"reason": (e.get("payload") or {}).get("reason", ""), "at": e["at"]}
    return None


def render_task(
    request: Request,
    ctx: Ctx,
    task_id: int,
    error: DubanError | None = None,
    status: int = 200,
    typed: dict[str, Any] | None = None,
) -> Response:
    """The task page, with a refused submission's problems beside its fields and the values typed kept."""
    lang = lang_of(request)
    try:
        values = _task_context(ctx, task_id, lang)
    except DubanError as exc:
        return page(request, "error.html", ctx, status=status_of(exc)[0], **as_context(exc, lang))
    labels = {f["name"]: f["label"] for f in values["fields"]} | {"files": "", "progress": "", "quality": ""}
    if typed is None:
        # A task sent back opens with what was handed in last time, to correct rather than retype.
        typed = {
            f"f_{k}": ("on" if v is True else "" if v is False else str(v))
            for k, v in values["task"]["form"].items()
        }
    # The follow-up moves stay folded unless the task is late or one of them was just refused.
    supervise_open = values["task"]["badge"] == "overdue" or any(
        k.startswith(("urge_", "extend_", "waive_")) for k in typed
    )
    if lang == "en" and values["definition"].get("title_en"):
        values["task"]["title"] = values["definition"]["title_en"]
    return page(
        request,
        "task.html",
        ctx,
        status=status,
        supervise_open=supervise_open,
        typed=typed,
        **values,
        **as_context(error, lang, labels),
    )


@router.get("/ui/tasks/{task_id}", response_model=None)
def task_page(request: Request, ctx: Caller, task_id: TaskId) -> Response:
    if ctx is None:
        return to_login()
    return render_task(request, ctx, task_id)


def _form_values(form: Any, completion: dict[str, Any]) -> dict[str, Any]:
    """The definition's fields from the posted form; empty ones left out, booleans as checkboxes."""
    values: dict[str, Any] = {}
    for name, spec in (completion.get("form") or {}).items():
        if spec.get("type") == "boolean":
            values[name] = form.get(f"f_{name}") == "on"
            continue
        raw = str(form.get(f"f_{name}", "")).strip()
        if raw:
            values[name] = raw
    return values


def _uploads(form: Any, completion: dict[str, Any]) -> list[tuple[Any, str, str | None]]:
    """The files of each slot, with the slot's label (none for the one unlabelled slot)."""
    out = []
    for i, label in enumerate(_slots(completion)):
        for f in form.getlist(f"file_{i}"):
            if isinstance(f, UploadFile) and f.filename:
                out.append((f.file, f.filename, label or None))
    return out


@router.post("/ui/tasks/{task_id}/submit", response_model=None)
async def task_submit(request: Request, ctx: Caller, task_id: TaskId) -> Response:
    if ctx is None:
        return to_login()
    form = await posted(request, ctx)
    typed = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    try:
        with ctx.read() as s:
            completion = lookups.task_definition(s, ctx.actor, task_id).get("completion") or {}
        progress = str(form.get("progress", "")).strip()
        try:
            amount = float(progress) if progress else None
        except ValueError:
            raise InvalidInput([Problem(f"task {task_id}", "progress", "is not a number")]) from None
        stored = store_files(ctx.rt, _uploads(form, completion))
        with ctx.write() as s:
            lifecycle.submit_task(
                s,
                ctx.rt,
                ctx.actor,
                task_id,
                form=_form_values(form, completion),
                files=stored,
                progress=amount,
            )
    except DubanError as exc:
        return render_task(request, ctx, task_id, exc, status_of(exc)[0], typed)
    return redirect(f"/ui/tasks/{task_id}?done=submit")


def _move_inputs(form: Any, move: str) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip()[:2000] for name, _ in MOVES[move]}


def _missing(move: str, inputs: dict[str, str], task_id: int) -> InvalidInput | None:
    messages = {"reason": "needs a reason", "due": "required"}
    problems = [
        Problem(f"task {task_id}", name, messages[name])
        for name, required in MOVES[move]
        if required and not inputs.get(name)
    ]
    return InvalidInput(problems) if problems else None


def _act(ctx: Ctx, move: str, task_id: int, inputs: dict[str, str]) -> None:
    with ctx.write() as s:
        if move == "approve":
            lifecycle.approve_task(s, ctx.rt, ctx.actor, task_id)
            award_quality_on_approval(s, ctx.rt, ctx.actor, task_id, inputs.get("quality", ""))
        elif move == "reject":
            lifecycle.reject_task(s, ctx.rt, ctx.actor, task_id, inputs["reason"])
        elif move == "urge":
            lifecycle.urge_task(s, ctx.rt, ctx.actor, task_id, inputs.get("reason", ""))
        elif move == "extend":
            try:
                due = date.fromisoformat(inputs["due"])
            except ValueError:
                raise InvalidInput([Problem(f"task {task_id}", "due", "is not a date")]) from None
            lifecycle.extend_task(s, ctx.rt, ctx.actor, task_id, due, inputs.get("reason", ""))
        elif move == "waive":
            lifecycle.waive_task(s, ctx.rt, ctx.actor, task_id, inputs["reason"])


@router.post("/ui/tasks/{task_id}/{move}", response_model=None)
async def task_move(request: Request, ctx: Caller, task_id: TaskId, move: str) -> Response:
    if ctx is None:
        return to_login()
    form = await posted(request, ctx)
    if move not in MOVES:
        return render_task(request, ctx, task_id, InvalidInput([]), 404)
    lang = lang_of(request)
    inputs = _move_inputs(form, move)
    missing = _missing(move, inputs, task_id)
    if missing is not None:
        return render_task(request, ctx, task_id, missing, 422, {f"{move}_{k}": v for k, v in inputs.items()})
    if form.get("confirmed") != "1":
        try:
            values = _task_context(ctx, task_id, lang)
        except DubanError as exc:
            return page(request, "error.html", ctx, status=status_of(exc)[0], **as_context(exc, lang))
        return page(
            request,
            "confirm.html",
            ctx,
            move=move,
            action=f"/ui/tasks/{task_id}/{move}",
            back=f"/ui/tasks/{task_id}",
            inputs=inputs,
            chosen=[values["task"]],
            ids=[],
        )
    try:
        _act(ctx, move, task_id, inputs)
    except DubanError as exc:
        return render_task(
            request, ctx, task_id, exc, status_of(exc)[0], {f"{move}_{k}": v for k, v in inputs.items()}
        )
    return redirect(f"/ui/tasks/{task_id}?done={move}")


@router.post("/ui/tasks/{task_id}/files/{file_id}/remove", response_model=None)
async def file_remove(request: Request, ctx: Caller, task_id: TaskId, file_id: TaskId) -> Response:
    if ctx is None:
        return to_login()
    form = await posted(request, ctx)
    if form.get("confirmed") != "1":
        lang = lang_of(request)
        try:
            values = _task_context(ctx, task_id, lang)
        except DubanError as exc:
            return page(request, "error.html", ctx, status=status_of(exc)[0], **as_context(exc, lang))
        chosen_file = next((f for f in values["task"]["files"] if f["id"] == file_id), None)
        return page(
            request,
            "confirm.html",
            ctx,
            move="remove_file",
            action=f"/ui/tasks/{task_id}/files/{file_id}/remove",
            back=f"/ui/tasks/{task_id}",
            inputs={},
            chosen=[values["task"]],
            file=chosen_file,
            ids=[],
        )
    try:
        with ctx.write() as s:
            lifecycle.remove_file(s, ctx.rt, ctx.actor, task_id, file_id)
    except DubanError as exc:
        return render_task(request, ctx, task_id, exc, status_of(exc)[0])
    return redirect(f"/ui/tasks/{task_id}?done=remove_file")


@router.post("/ui/batch", response_model=None)
async def batch(request: Request, ctx: Caller) -> Response:
    """Approve or urge the ticked tasks of a list: confirm first, then each in turn; say how many went through."""
    if ctx is None:
        return to_login()
    form = await posted(request, ctx)
    move = str(form.get("move", ""))
    back = str(form.get("back", "/ui/tasks"))
    back = back if back.startswith("/ui/tasks") else "/ui/tasks"
    ids = sorted({int(v) for v in form.getlist("ids") if str(v).isdigit() and 0 < int(v) < 2**31})[:500]
    if move not in BATCH or not ids:
        return redirect(back)
    inputs = _move_inputs(form, move)
    if form.get("confirmed") != "1":
        with ctx.read() as s:
            chosen = tasks.list_tasks(
                s,
                ctx.rt.now(),
                ctx.rt.tz,
                ctx.actor,
                tasks.TaskFilter(subtree=True, ids=tuple(ids), limit=500),
            )["items"]
        return page(
            request,
            "confirm.html",
            ctx,
            move=move,
            action="/ui/batch",
            back=back,
            inputs=inputs,
            chosen=chosen,
            ids=ids,
        )
    done, refused = 0, 0
    for task_id in ids:
        try:
            _act(ctx, move, task_id, inputs)
            done += 1
        except DubanError:
            refused += 1
    sep = "&" if "?" in back else "?"
    return redirect(f"{back}{sep}done={move}&n={done}&refused={refused}")


@router.get("/ui/files/{task_id}/{sha256}", response_model=None)
def download(
    request: Request,
    ctx: Caller,
    task_id: TaskId,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-fA-F]{64}$")],
) -> Response:
    """A file of a task the caller sees; pictures inline (the approver looks at them on the page)."""
    if ctx is None:
        return to_login()
    with ctx.read() as s:
        row, blob = lookups.find_attachment(s, ctx.rt.data_dir, ctx.actor, task_id, sha256)
    inline = row.content_type.startswith("image/") and row.content_type in ALLOWED
    return FileResponse(
        blob,
        media_type=row.content_type,
        filename=row.filename,
        content_disposition_type="inline" if inline else "attachment",
        headers={"Cache-Control": "private, max-age=3600"},
    )
