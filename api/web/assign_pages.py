"""布置任务: pick an item and a scope from the tree, preview in words, assign once (or again, knowingly)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from duban.api.deps import Ctx
from duban.api.errors import status_of
from duban.api.i18n import lang_of
from duban.api.web.common import Caller, page, posted, redirect, to_login
from duban.api.web.refusals import as_context
from duban.engine.errors import DubanError, InvalidInput, Problem
from duban.engine.language.plans import load_plans, plan_by_id
from duban.engine.overview import lookups
from duban.engine.work import catalog, fanout, plans

router = APIRouter()


def _page(request: Request, ctx: Ctx, chosen: dict[str, str], status: int = 200, **values: Any) -> Response:
    with ctx.read() as s:
        definitions = lookups.list_definitions(s)
        offered = [p.plan for p in load_plans(ctx.settings.plans_folder())]
        units, scope = lookups.unit_choices(s, ctx.actor, chosen.get("find", ""), chosen.get("scope", ""))
    return page(
        request,
        "assign.html",
        ctx,
        status=status,
        definitions=definitions,
        units=units,
        chosen=chosen,
        scope_name=scope["name"] if scope else None,
        plans=offered,
        **values,
    )


@router.get("/ui/assign", response_model=None)
def assign_page(request: Request, ctx: Caller) -> Response:
    """The form; `?find=` narrows the scope list (the search works without JavaScript)."""
    if ctx is None:
        return to_login()
    q = request.query_params
    chosen = {
        "plan": q.get("plan", ""),
        "definition": q.get("definition", ""),
        "scope": q.get("scope", ctx.actor.unit_code),
        "due": q.get("due", ""),
        "find": q.get("find", "").strip()[:64],
    }
    created = None
    if q.get("created"):
        created = {"n": q.get("n", "0"), "assignment": q.get("created")}
    if q.get("plan_created"):
        created = {"n": q.get("n", "0"), "plan_items": q.get("items", "0")}
    return _page(request, ctx, chosen, created=created)


@router.post("/ui/assign", response_model=None)
async def assign(request: Request, ctx: Caller) -> Response:
    if ctx is None:
        return to_login()
    lang = lang_of(request)
    chosen: dict[str, str] = {}
    preview = duplicates = None
    try:
        form = await posted(request, ctx)
        chosen = {
            k: str(form.get(k, "")).strip()[:64] for k in ("definition", "scope", "due", "action", "find")
        }
        due = _date(chosen["due"])
        with ctx.read() as s:
            preview = fanout.preview_assignment(
                s, ctx.rt, ctx.actor, chosen["definition"], chosen["scope"], due
            )
            duplicates = lookups.same_assignments(s, chosen["definition"], chosen["scope"])
        if chosen["action"] == "create" and (not duplicates or form.get("again") == "1"):
            with ctx.write() as s:
                result = fanout.assign_definition(
                    s, ctx.rt, ctx.actor, chosen["definition"], chosen["scope"], due=due
                )
            return redirect(f"/ui/assign?created={result.assignment_id}&n={result.created}")
    except DubanError as exc:
        return _page(
            request,
            ctx,
            chosen,
            status=status_of(exc)[0],
            preview=preview,
            **as_context(exc, lang, {"scope": "", "due": ""}),
        )
    return _page(request, ctx, chosen, preview=preview, duplicates=duplicates, **as_context(None, lang))


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise InvalidInput([Problem("assign", "due", "is not a date")]) from None


@router.post("/ui/assign/plan", response_model=None)
async def assign_plan(request: Request, ctx: Caller) -> Response:
    """A whole plan: preview every item, then assign all in one transaction (or none, naming each refused)."""
    if ctx is None:
        return to_login()
    lang = lang_of(request)
    chosen: dict[str, str] = {}
    preview = None
    repeated: list[str] = []
    places: dict[str, str] = {}
    try:
        form = await posted(request, ctx)
        chosen = {k: str(form.get(k, "")).strip()[:64] for k in ("plan", "scope", "due", "action", "find")}
        plan = plan_by_id(ctx.settings.plans_folder(), chosen["plan"])
        due = _date(chosen["due"])
        with ctx.read() as s:
            titles = catalog.newest_titles(s, set(plan.items))
            places = {f"{plan.id}: {i}": titles.get(i, i) for i in plan.items}
            preview = plans.preview_plan(s, ctx.rt, ctx.actor, plan, chosen["scope"], due=due)
            repeated = [
                i["title"]
                for i in preview["items"]
                if lookups.same_assignments(s, i["definition"], chosen["scope"])
            ]
        if chosen["action"] == "create" and (not repeated or form.get("again") == "1"):
            with ctx.write() as s:
                result = plans.assign_plan(s, ctx.rt, ctx.actor, plan, chosen["scope"], due=due)
            return redirect(f"/ui/assign?plan_created={plan.id}&items={len(result.items)}&n={result.created}")
    except DubanError as exc:
        context = as_context(exc, lang, {}, places)
        return _page(request, ctx, chosen, status=status_of(exc)[0], **context)
    return _page(request, ctx, chosen, plan_preview=preview, repeated=repeated, **as_context(None, lang))
