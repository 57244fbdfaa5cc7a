"""One task list for every purpose: 待办, 待审核, 督办清单, due this week, and any unit's drill-down.

Filters, search, sort and pages are query parameters, so every list is a link (the 工作台's
cards, the dashboard's counts) and the browser's Back button works.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from duban.api.deps import Ctx
from duban.api.errors import status_of
from duban.api.i18n import lang_of
from duban.api.web.common import Caller, badge, page, query_with, redirect, to_login
from duban.api.web.home import week_end
from duban.api.web.refusals import as_context
from duban.engine.errors import DubanError
from duban.engine.overview import lookups, tasks
from duban.engine.store.models import TaskState

router = APIRouter()
PAGE = 50
VIEWS = ("todo", "approve", "supervise", "week", "all")
DUE_WINDOWS = (7, 30, 90)


def _flag(q: dict[str, str], name: str) -> bool:
    return q.get(name) in ("1", "on", "true")


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(value or default)))
    except ValueError:
        return default


# The dashboard's links name the same filters as the API does; the list's own form uses the short names.
ALIASES = {"subtree": "sub", "overdue": "late", "definition": "item", "escalated": "esc"}


def _params(request: Request) -> dict[str, str]:
    q = dict(request.query_params)
    for long, short in ALIASES.items():
        if long in q and short not in q:
            q[short] = q.pop(long)
    return q


def task_filter(request: Request, ctx: Ctx, view: str) -> tuple[tasks.TaskFilter, list[int] | None]:
    """The view's own narrowing, then the filters the reader chose on top."""
    q = _params(request)
    base = tasks.TaskFilter(limit=PAGE)
    ids: list[int] | None = None
    if view == "todo":
        base = replace(base, states=(TaskState.open.value,))
    elif view == "approve":
        with ctx.read() as s:
            ids = tasks.awaiting_approval(s, ctx.actor)
        base = replace(base, subtree=True, ids=tuple(ids))
    elif view == "supervise":
        base = replace(base, below=True, overdue=True)
    elif view == "week":
        base = replace(base, subtree=True, overdue=False, due_before=week_end(ctx))
    else:
        base = replace(base, unit=q.get("unit") or None, subtree=q.get("sub", "1") == "1")
    state = q.get("state") or None
    if state in TaskState.__members__:
        base = replace(base, state=state)
    if q.get("item"):
        base = replace(base, definition=q["item"][:64])
    if _flag(q, "late"):
        base = replace(base, overdue=True)
    if _flag(q, "esc"):
        base = replace(base, escalated=True)
    due = _int(q.get("due"), 0, 0, 3660)
    if due:
        window_end = ctx.rt.now() + timedelta(days=due)
        base = replace(base, due_before=min(window_end, base.due_before or window_end))
    if q.get("q"):
        base = replace(base, search=q["q"].strip()[:64])
    sort = q.get("sort") or ("item" if q.get("group") == "item" else "due")
    if sort in tasks.SORTS:
        base = replace(base, sort=sort, descending=_flag(q, "desc"))
    page_no = _int(q.get("page"), 1, 1, 10**6)
    return replace(base, offset=(page_no - 1) * PAGE), ids


@router.get("/ui/todo", response_model=None)
def old_todo() -> Response:
    return redirect("/ui/tasks?view=todo")


@router.get("/ui/supervision", response_model=None)
def old_supervision() -> Response:
    return redirect("/ui/tasks?view=supervise")


@router.get("/ui/tasks", response_model=None)
def task_list(request: Request, ctx: Caller) -> Response:
    if ctx is None:
        return to_login()
    view = request.query_params.get("view", "all")
    view = view if view in VIEWS else "all"
    lang = lang_of(request)
    try:
        f, _ids = task_filter(request, ctx, view)
        with ctx.read() as s:
            doc = tasks.list_tasks(s, ctx.rt.now(), ctx.rt.tz, ctx.actor, f)
            definitions = lookups.assigned_items(s)
            unit = lookups.show_unit(s, ctx.actor, f.unit) if f.unit else None
            reasons = tasks.sent_back_reasons(s, [t["id"] for t in doc["items"] if t["state"] == "open"])
    except DubanError as exc:
        return page(request, "error.html", ctx, status=status_of(exc)[0], **as_context(exc, lang))
    items = [t | {"badge": badge(ctx, t), "sent_back": reasons.get(t["id"])} for t in doc["items"]]
    if lang == "en":
        english = {d["id"]: d["title_en"] for d in definitions if d.get("title_en")}
        items = [t | {"title": english.get(t["definition_id"], t["title"])} for t in items]
    pages = max(1, -(-doc["total"] // PAGE))
    page_no = f.offset // PAGE + 1
    return page(
        request,
        "tasks.html",
        ctx,
        view=view,
        items=items,
        total=doc["total"],
        page_no=page_no,
        pages=pages,
        link=lambda **changes: query_with(request, **changes),
        params=_params(request),
        definitions=definitions,
        unit=unit,
        grouped=request.query_params.get("group") == "item",
        due_windows=DUE_WINDOWS,
        states=list(TaskState.__members__),
        can_batch_approve=view == "approve" and ctx.actor.role == "admin",
        can_batch_urge=view in ("supervise", "week", "all") and ctx.actor.role == "admin",
        done=_done(request),
    )


def _done(request: Request) -> dict[str, Any] | None:
    """What the action just redirected from did (?done=approve&n=3), to say so once at the top."""
    action = request.query_params.get("done")
    if not action:
        return None
    return {"action": action[:16], "n": _int(request.query_params.get("n"), 0, 0, 10**6)}
