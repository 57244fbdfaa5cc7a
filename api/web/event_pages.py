"""报告事件: a union says what happened (a cadre appointed, an incident, a transfer asked for); the work it calls for is created.

Two steps that work without JavaScript: the event and the unit are chosen first (a GET), so the
second step can offer that unit's people when the event is about a person, or ask in words what
happened when it is not. Posting answers with a redirect that names the tasks made.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from duban.api.deps import Ctx
from duban.api.errors import status_of
from duban.api.i18n import lang_of
from duban.api.web.common import Caller, page, posted, redirect, to_login
from duban.api.web.refusals import as_context
from duban.engine.errors import DubanError, InvalidInput, Problem
from duban.engine.overview import lookups
from duban.engine.work import fanout

router = APIRouter()
FIELDS = ("event", "unit", "subject", "label", "at", "find")
# The tasks a redirect names: an event starts a handful; the page links each.
MAX_LINKED = 20


def _page(
    request: Request,
    ctx: Ctx,
    chosen: dict[str, str],
    status: int = 200,
    posted: dict[int, Any] | None = None,
    **values: Any,
) -> Response:
    with ctx.read() as s:
        events = lookups.events_heard(s, ctx.actor)
        units, unit = lookups.unit_choices(s, ctx.actor, chosen.get("find", ""), chosen.get("unit", ""))
        event = next((e for e in events if e["event"] == chosen.get("event")), None)
        people = (
            lookups.people_in(s, ctx.actor, unit["code"]) if unit and event and event["about_person"] else []
        )
    return page(
        request,
        "events.html",
        ctx,
        status=status,
        events=events,
        units=units,
        event=event,
        unit=unit,
        people=people,
        chosen=chosen,
        posted=posted,
        **values,
    )


@router.get("/ui/events", response_model=None)
def events_page(request: Request, ctx: Caller) -> Response:
    if ctx is None:
        return to_login()
    q = request.query_params
    chosen = {k: q.get(k, "").strip()[:100] for k in FIELDS}
    chosen["unit"] = chosen["unit"] or ctx.actor.unit_code
    chosen["at"] = chosen["at"] or ctx.rt.local(ctx.rt.now()).strftime("%Y-%m-%dT%H:%M")
    posted_tasks = None
    if "posted" in q:
        ids = [int(i) for i in q.get("tasks", "").split(",") if i.isdigit()][:MAX_LINKED]
        with ctx.read() as s:
            # Only tasks the caller may see are named; an edited address names nothing else.
            titles = lookups.task_titles(s, set(ids), ctx.actor)
        posted_tasks = {i: titles[i] for i in ids if i in titles}
    return _page(request, ctx, chosen, posted=posted_tasks, total=q.get("posted", "0"))


def _instant(ctx: Ctx, text: str) -> datetime | None:
    """The time of a datetime-local field, in the deployment's time zone (empty: now)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=ctx.rt.tz)
    except ValueError:
        raise InvalidInput([Problem("event", "at", "is not a date and time")]) from None


@router.post("/ui/events", response_model=None)
async def post_event(request: Request, ctx: Caller) -> Response:
    if ctx is None:
        return to_login()
    chosen: dict[str, str] = {}
    try:
        form = await posted(request, ctx)
        chosen = {k: str(form.get(k, "")).strip()[:100] for k in FIELDS}
        if not chosen["subject"] and not chosen["label"]:
            # The page asks for one or the other: which is missing is read before any write begins.
            with ctx.read() as s:
                heard = {e["event"]: e["about_person"] for e in lookups.events_heard(s, ctx.actor)}
            field = "subject" if heard.get(chosen["event"]) else "label"
            raise InvalidInput([Problem("event", field, "required")])
        with ctx.write() as s:
            created = fanout.post_event(
                s,
                ctx.rt,
                ctx.actor,
                chosen["event"],
                chosen["unit"],
                subject=chosen["subject"],
                label=chosen["label"],
                at=_instant(ctx, chosen["at"]),
            )
        ids = ",".join(str(i) for i in created[:MAX_LINKED])
        return redirect(f"/ui/events?posted={len(created)}&tasks={ids}")
    except DubanError as exc:
        # Problems of the form's own fields stand beside them; the rest (a unit out of reach) above.
        context = as_context(exc, lang_of(request), dict.fromkeys(("subject", "label", "at", "unit"), ""))
        return _page(request, ctx, chosen, status=status_of(exc)[0], **context)
