"""工作台: what needs the signed-in officer today, each a count that links to its list."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import exists, select

from duban.api.deps import Ctx
from duban.api.web.common import Caller, badge, page, to_login, unread_count
from duban.engine.org import tree
from duban.engine.overview import tasks

router = APIRouter()


def week_end(ctx: Ctx) -> datetime:
    """The first instant after this week (local Monday 00:00 next week)."""
    today = ctx.rt.local(ctx.rt.now()).date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime.combine(monday, time(0), tzinfo=ctx.rt.tz)


def counts(ctx: Ctx) -> list[dict[str, Any]]:
    """The five cards of the 工作台, in the order an officer works them."""
    now, tz, actor = ctx.rt.now(), ctx.rt.tz, ctx.actor

    def total(f: tasks.TaskFilter) -> int:
        return int(tasks.list_tasks(s, now, tz, actor, f)["total"])

    with ctx.read() as s:
        mine = total(tasks.TaskFilter(states=("open",), limit=1)) if actor.unit_id else 0
        waiting = len(tasks.awaiting_approval(s, actor))
        late = total(tasks.TaskFilter(below=True, overdue=True, limit=1))
        week = total(tasks.TaskFilter(subtree=True, overdue=False, due_before=week_end(ctx), limit=1))
        below = actor.unit_id is None or s.scalar(
            select(exists().where(tree.strictly_below(actor.unit_path)))
        )
    cards = [
        {"key": "todo", "n": mine, "href": "/ui/tasks?view=todo"},
        {"key": "approve", "n": waiting, "href": "/ui/tasks?view=approve"},
        {"key": "late_below", "n": late, "href": "/ui/tasks?view=supervise"},
        {"key": "due_week", "n": week, "href": "/ui/tasks?view=week"},
        {"key": "unread", "n": unread_count(ctx), "href": "/ui/inbox"},
    ]
    # Per role: a unit with nothing below it neither approves nor supervises; only admins approve.
    hidden = set() if below else {"approve", "late_below"}
    if actor.role not in ("admin", "operator"):
        hidden.add("approve")
    return [c for c in cards if c["key"] not in hidden or c["n"]]


@router.get("/ui", response_model=None)
def workbench(request: Request, ctx: Caller) -> Response:
    if ctx is None:
        return to_login()
    # The few most urgent of the unit's own tasks, so a branch on a phone starts its work from here.
    with ctx.read() as s:
        urgent = (
            tasks.list_tasks(
                s, ctx.rt.now(), ctx.rt.tz, ctx.actor, tasks.TaskFilter(states=("open",), limit=5)
            )["items"]
            if ctx.actor.unit_id
            else []
        )
    urgent = [t | {"badge": badge(ctx, t)} for t in urgent]
    return page(request, "home.html", ctx, cards=counts(ctx), urgent=urgent)
