"""The web UI: server-rendered pages over the same engine services and the same accounts.

Plain HTML forms that work without JavaScript; the session cookie carries an API
token (HttpOnly, SameSite=Lax, so another site cannot post a form as the user).
Refusals are shown on the page they came from.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile

from duban.api.deps import COOKIE, Ctx, web_ctx
from duban.api.errors import status_of
from duban.api.i18n import lang_of, translator
from duban.api.routes.auth import issue
from duban.engine.access import sessions
from duban.engine.errors import DubanError, InvalidInput, Throttled, Unauthenticated
from duban.engine.overview import lookups, reports, tasks
from duban.engine.work import fanout, lifecycle
from duban.engine.work.attachments import store_files

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=FsPath(__file__).parent / "templates")
SOON = timedelta(days=7)


def page(request: Request, name: str, ctx: Ctx | None, status: int = 200, **values: Any) -> HTMLResponse:
    """Render a page in the caller's language (and remember an explicit ?lang=)."""
    lang = lang_of(request)
    response = templates.TemplateResponse(
        request,
        name,
        {"t": translator(lang), "lang": lang, "me": ctx.actor if ctx else None, **values},
        status_code=status,
    )
    if request.query_params.get("lang") == lang:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return response


def badge(ctx: Ctx, task: dict[str, Any]) -> str:
    """overdue (red), soon (amber) or ok, for an unfinished task."""
    if task["state"] not in ("open", "submitted"):
        return "finished"
    now = ctx.rt.now()
    overdue_at = datetime.fromisoformat(task["overdue_at"])
    if now >= overdue_at:
        return "overdue"
    return "soon" if overdue_at - now <= SOON else "ok"


def signed_in(request: Request) -> Ctx | None:
    """The caller, or None (the page then sends them to sign in)."""
    try:
        return web_ctx(request)
    except Unauthenticated:
        return None


Caller = Annotated[Ctx | None, Depends(signed_in)]


def to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/ui/todo", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return page(request, "login.html", None)


@router.post("/login", response_model=None)
async def login(request: Request) -> Response:
    form = await request.form()
    try:
        issued = issue(request, str(form.get("username", ""))[:64], str(form.get("password", ""))[:256])
    except (Unauthenticated, Throttled) as exc:
        return page(request, "login.html", None, status=status_of(exc)[0], error=exc)
    response = RedirectResponse("/ui/todo", status_code=303)
    response.set_cookie(
        COOKIE,
        issued.token,
        max_age=issued.expires_in,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", response_model=None)
def logout(request: Request, ctx: Caller) -> Response:
    if ctx is not None:
        with ctx.write() as s:
            sessions.revoke_token(s, ctx.rt.now(), ctx.token)
    response = to_login()
    response.delete_cookie(COOKIE)
    return response


@router.get("/ui/todo", response_model=None)
def todo(request: Request, ctx: Caller) -> Response:
    if ctx is None:
        return to_login()
    with ctx.read() as s:
        doc = tasks.todo(s, ctx.rt.now(), ctx.rt.tz, ctx.actor, 200, 0)
    items = [t | {"badge": badge(ctx, t)} for t in doc["items"]]
    return page(request, "todo.html", ctx, items=items, total=doc["total"])


@router.get("/ui/tasks/{task_id}", response_model=None)
def task_page(request: Request, ctx: Caller, task_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Response:
    if ctx is None:
        return to_login()
    return render_task(request, ctx, task_id)


def render_task(
    request: Request, ctx: Ctx, task_id: int, error: DubanError | None = None, status: int = 200
) -> Response:
    """The task page, with the refusal of a submission when there was one."""
    try:
        with ctx.read() as s:
            task = tasks.show_task(s, ctx.rt.tz, ctx.actor, task_id)
            completion = lookups.task_completion(s, ctx.actor, task_id)
    except DubanError as exc:
        return page(request, "error.html", ctx, status=status_of(exc)[0], error=exc)
    task["badge"] = badge(ctx, task)
    return page(request, "task.html", ctx, status=status, task=task, completion=completion, error=error)


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


@router.post("/ui/tasks/{task_id}/submit", response_model=None)
async def task_submit(
    request: Request, ctx: Caller, task_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    if ctx is None:
        return to_login()
    form = await request.form()
    try:
        with ctx.read() as s:
            completion = lookups.task_completion(s, ctx.actor, task_id)
        uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
        stored = store_files(ctx.rt, [(f.file, f.filename or "file", None) for f in uploads])
        progress = str(form.get("progress", "")).strip()
        with ctx.write() as s:
            lifecycle.submit_task(
                s,
                ctx.rt,
                ctx.actor,
                task_id,
                form=_form_values(form, completion),
                files=stored,
                progress=float(progress) if progress else None,
            )
    except ValueError:
        return render_task(request, ctx, task_id, InvalidInput([]), 422)
    except DubanError as exc:
        return render_task(request, ctx, task_id, exc, status_of(exc)[0])
    return RedirectResponse(f"/ui/tasks/{task_id}", status_code=303)


@router.get("/ui/assign", response_model=None)
def assign_page(request: Request, ctx: Caller) -> Response:
    if ctx is None:
        return to_login()
    with ctx.read() as s:
        definitions = lookups.list_definitions(s)
    return page(request, "assign.html", ctx, definitions=definitions, chosen={"scope": ctx.actor.unit_code})


@router.post("/ui/assign", response_model=None)
async def assign(request: Request, ctx: Caller) -> Response:
    if ctx is None:
        return to_login()
    form = await request.form()
    chosen = {k: str(form.get(k, "")).strip() for k in ("definition", "scope", "due", "action")}
    preview = created = error = None
    try:
        due = date.fromisoformat(chosen["due"]) if chosen["due"] else None
        if chosen["action"] == "create":
            with ctx.write() as s:
                created = fanout.assign_definition(
                    s, ctx.rt, ctx.actor, chosen["definition"], chosen["scope"], due=due
                ).to_json()
        else:
            with ctx.read() as s:
                preview = fanout.preview_assignment(
                    s, ctx.rt, ctx.actor, chosen["definition"], chosen["scope"], due
                )
    except ValueError:
        error = InvalidInput([])
    except DubanError as exc:
        error = exc
    with ctx.read() as s:
        definitions = lookups.list_definitions(s)
    return page(
        request,
        "assign.html",
        ctx,
        status=status_of(error)[0] if error else 200,
        definitions=definitions,
        chosen=chosen,
        preview=preview,
        created=created,
        error=error,
    )


@router.get("/ui/supervision", response_model=None)
def supervision(request: Request, ctx: Caller) -> Response:
    if ctx is None:
        return to_login()
    with ctx.read() as s:
        items = tasks.supervision_list(s, ctx.rt.tz, ctx.actor)
    return page(request, "supervision.html", ctx, items=[t | {"badge": badge(ctx, t)} for t in items])


@router.get("/ui/report", response_model=None)
@router.get("/ui/report/{code}", response_model=None)
def dashboard(request: Request, ctx: Caller, code: str | None = None) -> Response:
    if ctx is None:
        return to_login()
    try:
        with ctx.read() as s:
            report = reports.rollup(s, ctx.rt.now(), ctx.actor, code or ctx.actor.unit_code)
    except DubanError as exc:
        return page(request, "error.html", ctx, status=status_of(exc)[0], error=exc)
    return page(request, "report.html", ctx, report=report)


@router.get("/ui/files/{task_id}/{sha256}", response_model=None)
def download(
    ctx: Caller,
    task_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    sha256: Annotated[str, Path(pattern=r"^[0-9a-fA-F]{64}$")],
) -> Response:
    if ctx is None:
        return to_login()
    with ctx.read() as s:
        row, blob = lookups.find_attachment(s, ctx.rt.data_dir, ctx.actor, task_id, sha256)
    return FileResponse(blob, media_type=row.content_type, filename=row.filename)
