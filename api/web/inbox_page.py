"""The inbox: the caller's notices in words, newest first, each linking to its task; marking read."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from duban.api.web.common import Caller, page, posted, query_with, redirect, to_login
from duban.engine.overview import lookups

router = APIRouter()
PAGE = 30


@router.get("/ui/inbox", response_model=None)
def inbox(request: Request, ctx: Caller) -> Response:
    if ctx is None:
        return to_login()
    unread_only = request.query_params.get("unread") == "1"
    try:
        page_no = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page_no = 1
    with ctx.read() as s:
        doc = lookups.list_inbox(s, ctx.rt.tz, ctx.actor, unread_only, PAGE, (page_no - 1) * PAGE)
        titles = lookups.task_titles(s, {i["task_id"] for i in doc["items"]})
    items = [i | {"task": titles.get(i["task_id"], {})} for i in doc["items"]]
    return page(
        request,
        "inbox.html",
        ctx,
        items=items,
        total=doc["total"],
        unread_only=unread_only,
        page_no=page_no,
        pages=max(1, -(-doc["total"] // PAGE)),
        link=lambda **changes: query_with(request, **changes),
    )


@router.post("/ui/inbox/read", response_model=None)
async def mark_read(request: Request, ctx: Caller) -> Response:
    """Mark the ticked notices (or, with `all`, every unread one) read."""
    if ctx is None:
        return to_login()
    form = await posted(request, ctx)
    ids = [int(v) for v in form.getlist("ids") if str(v).isdigit() and 0 < int(v) < 2**31][:1000]
    with ctx.write() as s:
        lookups.mark_inbox_read(s, ctx.rt.now(), ctx.actor, None if form.get("all") == "1" else ids)
    return redirect("/ui/inbox")
