"""考核 and 台账 in the browser: a union's ranking per level, a unit's score card, closing and
reopening the year, bonus points, and one item's ledger with its workbook.

Every page reads the same engine services as `duban assess` and `duban ledger`, scoped the
same way (a union outside the caller's subtree is "not found"); every change is a CSRF-checked
form that answers with a redirect, and a refusal comes back beside the form that caused it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from duban.api.deps import Ctx
from duban.api.errors import status_of
from duban.api.i18n import lang_of
from duban.api.web.common import Caller, page, posted, redirect, to_login
from duban.api.web.refusals import as_context, refusal
from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.assess import assessment, ledger
from duban.engine.assess.versions import latest_scheme, list_schemes, schemes_scoring
from duban.engine.errors import DubanError, InvalidInput, NotFound, Problem
from duban.engine.language.model import Level
from duban.engine.org import tree
from duban.engine.overview import lookups

router = APIRouter()
SchemeId = Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9-]+$")]
Code = Annotated[str, Path(max_length=64, pattern=r"^[^\x00-\x1f\x7f/]+$")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEVEL_ORDER = [lv.value for lv in Level]
LEDGER_ROWS = 200  # rows shown on the page; the workbook has them all
TOP = 50  # units shown per level on the overview; a level's own pages hold RANK_PAGE each
RANK_PAGE = 200
PICK_MAX = 300  # up to this many ranked units the bonus form offers them in a select; beyond, a code is typed


def thresholds(ctx: Ctx) -> tuple[float, float]:
    """The 折合得分 at or above which a mark is green, and amber: the dashboard's 红黄绿灯 settings
    (DUBAN_LIGHT_GREEN, DUBAN_LIGHT_YELLOW; 90 and 70 unless set)."""
    return ctx.settings.light_green, ctx.settings.light_yellow


def light(normalized: float, green: float, amber: float) -> str:
    """The mark of a 折合得分: green, amber or red."""
    if normalized >= green:
        return "green"
    return "amber" if normalized >= amber else "red"


def _default_scheme(schemes: list[dict[str, Any]], year: int) -> str | None:
    """This year's scheme when there is one, else the newest."""
    return next((s["id"] for s in schemes if s["year"] == year), schemes[0]["id"] if schemes else None)


def _resolve_unit(session: Session, actor: Actor, text: str) -> tuple[str | None, list[dict[str, Any]]]:
    """A unit typed as its code or part of its name: (code, []) when one is meant, else (None, candidates)."""
    text = text.strip()[:64]
    if not text:
        return actor.unit_code, []
    try:
        tree.get_unit(session, text)
        return text, []
    except NotFound:
        pass
    found = lookups.find_units(session, actor, text, limit=20)
    if len(found) == 1:
        return found[0]["code"], []
    return None, found


def _can_manage(session: Session, actor: Actor, code: str) -> bool:
    """Whether the caller may close, reopen or give bonus points under this union."""
    unit = tree.get_unit(session, code)
    try:
        permissions.can_assess(actor, unit.path, unit.code)
    except DubanError:
        return False
    return True


def _english_titles(session: Session) -> dict[str, str]:
    return {d["id"]: d["title_en"] for d in lookups.assigned_items(session) if d.get("title_en")}


def _levels(doc: dict[str, Any], green: float, amber: float) -> list[tuple[str, list[dict[str, Any]]]]:
    """The ranking's levels from the top of the tree down, each unit with its mark."""
    levels = doc.get("levels") or {}
    ordered = sorted(levels, key=lambda lv: LEVEL_ORDER.index(lv) if lv in LEVEL_ORDER else len(LEVEL_ORDER))
    return [(lv, [r | {"light": light(r["normalized"], green, amber)} for r in levels[lv]]) for lv in ordered]


def assess_link(scheme: str | None, code: str | None, **more: str) -> str:
    query = {k: v for k, v in {"scheme": scheme, "unit": code, **more}.items() if v}
    return "/ui/assess?" + urlencode(query)


def render_assess(
    request: Request,
    ctx: Ctx,
    scheme_id: str | None,
    unit_text: str,
    *,
    failed: str | None = None,
    error: DubanError | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The ranking page; a refused action's problems shown beside its form (`failed` names which)."""
    lang = lang_of(request)
    try:
        with ctx.read() as s:
            schemes = list_schemes(s)
            scheme_id = scheme_id or _default_scheme(schemes, ctx.rt.local(ctx.rt.now()).year)
            code, candidates = _resolve_unit(s, ctx.actor, unit_text)
            doc = manage = bonus_items = None
            if scheme_id and code:
                doc = assessment.assess(s, ctx.rt, ctx.actor, scheme_id, code)
                manage = _can_manage(s, ctx.actor, code)
                bonus_items = latest_scheme(s, scheme_id)[2].bonus
            english = _english_titles(s) if lang == "en" else {}
    except DubanError as exc:
        return page(request, "error.html", ctx, status=status_of(exc)[0], **as_context(exc, lang))
    green, amber = thresholds(ctx)
    all_levels = _levels(doc, green, amber) if doc else []
    focus = request.query_params.get("level", "")
    focus = focus if focus in dict(all_levels) else ""
    page_no, pages = 1, 1
    if focus:
        # One level, every unit of it a page at a time.
        rows = dict(all_levels)[focus]
        pages = max(1, -(-len(rows) // RANK_PAGE))
        page_no = min(pages, max(1, _int(request.query_params.get("page"), 1)))
        shown = [(focus, rows[(page_no - 1) * RANK_PAGE : page_no * RANK_PAGE])]
    else:
        shown = [(lv, rows[:TOP]) for lv, rows in all_levels]
    if code is None and not candidates:
        status = 404  # as for a union outside the caller's subtree: nothing tells the two apart
    labels = {"unit": "", "bonus": "", "points": "", "reason": ""}
    problem = refusal(error, lang, labels) if error is not None else None
    return page(
        request,
        "assess.html",
        ctx,
        status=status,
        schemes=schemes,
        scheme_id=scheme_id,
        unit_text=unit_text,
        candidates=candidates,
        doc=doc,
        levels=all_levels,
        shown=shown,
        focus=focus,
        ranked_units=sum(len(rows) for _, rows in all_levels),
        pick_max=PICK_MAX,
        page_no=page_no,
        pages=pages,
        manage=manage,
        bonus_items=bonus_items or [],
        english=english,
        failed=failed,
        problem=problem,
        typed=typed or {},
        done=request.query_params.get("done", "")[:16],
        link=assess_link,
        green=green,
        amber=amber,
    )


@router.get("/ui/assess", response_model=None)
def assess_page(request: Request, ctx: Caller) -> Response:
    if ctx is None:
        return to_login()
    q = request.query_params
    scheme = (q.get("scheme") or "")[:64] or None
    return render_assess(request, ctx, scheme, q.get("unit") or "")


@router.get("/ui/assess/{scheme}/{code}/card/{unit}", response_model=None)
def score_card(request: Request, ctx: Caller, scheme: SchemeId, code: Code, unit: Code) -> Response:
    if ctx is None:
        return to_login()
    lang = lang_of(request)
    try:
        with ctx.read() as s:
            doc = assessment.unit_card(s, ctx.rt, ctx.actor, scheme, code, unit)
            english = _english_titles(s) if lang == "en" else {}
    except DubanError as exc:
        return page(request, "error.html", ctx, status=status_of(exc)[0], **as_context(exc, lang))
    row = doc["card"]
    return page(
        request,
        "assess_card.html",
        ctx,
        doc=doc,
        row=row | {"light": light(row["normalized"], *thresholds(ctx))},
        ranked=doc["ranked"],
        english=english,
        back=assess_link(scheme, code),
    )


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or default)
    except ValueError:
        return default


def _typed(form: Any, *names: str) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip()[:500] for name in names}


@router.post("/ui/assess/{scheme}/{code}/close", response_model=None)
async def close(request: Request, ctx: Caller, scheme: SchemeId, code: Code) -> Response:
    if ctx is None:
        return to_login()
    form = await posted(request, ctx)
    if form.get("confirmed") != "1":
        try:
            with ctx.read() as s:
                doc = assessment.assess(s, ctx.rt, ctx.actor, scheme, code)
        except DubanError as exc:
            return page(
                request, "error.html", ctx, status=status_of(exc)[0], **as_context(exc, lang_of(request))
            )
        return page(
            request,
            "assess_confirm.html",
            ctx,
            doc=doc,
            action=f"/ui/assess/{scheme}/{code}/close",
            back=assess_link(scheme, code),
            units=sum(len(rows) for rows in (doc.get("levels") or {}).values()),
        )
    try:
        with ctx.write() as s:
            assessment.close_assessment(s, ctx.rt, ctx.actor, scheme, code)
    except DubanError as exc:
        return render_assess(request, ctx, scheme, code, failed="close", error=exc, status=status_of(exc)[0])
    return redirect(assess_link(scheme, code, done="closed"))


@router.post("/ui/assess/{scheme}/{code}/reopen", response_model=None)
async def reopen(request: Request, ctx: Caller, scheme: SchemeId, code: Code) -> Response:
    if ctx is None:
        return to_login()
    typed = _typed(await posted(request, ctx), "reason")
    try:
        if not typed["reason"]:
            raise InvalidInput([Problem(code, "reason", "say why the assessment is reopened")])
        with ctx.write() as s:
            assessment.reopen_assessment(s, ctx.rt, ctx.actor, scheme, code, typed["reason"])
    except DubanError as exc:
        return render_assess(
            request, ctx, scheme, code, failed="reopen", error=exc, typed=typed, status=status_of(exc)[0]
        )
    return redirect(assess_link(scheme, code, done="reopened"))


@router.post("/ui/assess/{scheme}/{code}/bonus", response_model=None)
async def bonus(request: Request, ctx: Caller, scheme: SchemeId, code: Code) -> Response:
    if ctx is None:
        return to_login()
    typed = _typed(await posted(request, ctx), "unit", "bonus", "points", "reason")
    try:
        problems = [
            Problem(code, name, "required")
            for name in ("unit", "bonus", "points", "reason")
            if not typed[name]
        ]
        try:
            points = float(typed["points"]) if typed["points"] else 0.0
        except ValueError:
            problems.append(Problem(code, "points", "is not a number"))
        if problems:
            raise InvalidInput(problems)
        with ctx.write() as s:
            assessment.award_bonus(
                s, ctx.rt, ctx.actor, scheme, code, typed["unit"], typed["bonus"], points, typed["reason"]
            )
    except DubanError as exc:
        return render_assess(
            request, ctx, scheme, code, failed="bonus", error=exc, typed=typed, status=status_of(exc)[0]
        )
    return redirect(assess_link(scheme, code, done="bonus"))


def _ledger_query(request: Request, ctx: Ctx) -> dict[str, str]:
    q = request.query_params
    return {
        "item": (q.get("item") or "").strip()[:64],
        "period": (q.get("period") or str(ctx.rt.local(ctx.rt.now()).year)).strip()[:16],
        "unit": (q.get("unit") or ctx.actor.unit_code).strip()[:64],
    }


@router.get("/ui/ledger", response_model=None)
def ledger_page(request: Request, ctx: Caller) -> Response:
    if ctx is None:
        return to_login()
    lang = lang_of(request)
    chosen = _ledger_query(request, ctx)
    book = error = None
    items: list[dict[str, Any]] = []
    try:
        with ctx.read() as s:
            items = lookups.assigned_items(s)
            if chosen["item"]:
                book = ledger.ledger(
                    s, ctx.rt, ctx.actor, chosen["item"], chosen["unit"], chosen["period"] or None
                )
    except DubanError as exc:
        # Shown above the form that chose it: a mistyped unit or period is corrected in place.
        error = exc
    values = as_context(error, lang, {"item": "", "period": "", "unit": ""})
    return page(
        request,
        "ledger.html",
        ctx,
        status=status_of(error)[0] if error else 200,
        items=items,
        chosen=chosen,
        book=book,
        shown=LEDGER_ROWS,
        xlsx="/ui/ledger.xlsx?" + urlencode(chosen),
        figure=figure,
        **values,
    )


@router.get("/ui/ledger.xlsx", response_model=None)
def ledger_xlsx(request: Request, ctx: Caller) -> Response:
    if ctx is None:
        return to_login()
    lang = lang_of(request)
    chosen = _ledger_query(request, ctx)
    try:
        with ctx.read() as s:
            book = ledger.ledger(
                s, ctx.rt, ctx.actor, chosen["item"], chosen["unit"], chosen["period"] or None
            )
    except DubanError as exc:
        return page(request, "error.html", ctx, status=status_of(exc)[0], **as_context(exc, lang))
    plain = (
        f"ledger-{chosen['item']}-{book['unit']['code']}{'-' + chosen['period'] if chosen['period'] else ''}"
    )
    words = f"{book['unit']['name']}{book['definition']['title']}台账{chosen['period']}"
    return Response(
        ledger.ledger_workbook(book, lang),
        media_type=XLSX,
        headers={
            "Content-Disposition": f"attachment; filename=\"{plain}.xlsx\"; filename*=UTF-8''{quote(words)}.xlsx",
            "Cache-Control": "no-store",
        },
    )


def figure(value: float | None, rate: bool = False) -> str:
    """A ledger figure as people write it: 1,200.5 / 85.7% / — when there is none."""
    if value is None:
        return "—"
    if rate:
        return f"{value:g}%"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def quality_max(session: Session, task: dict[str, Any], definition: dict[str, Any]) -> float | None:
    """The most quality points (评分) the approver may give on this approval, or None when none is asked:
    only at the chain's last step, and only when a scheme of the task's year rates the item."""
    if task["state"] != "submitted" or task["approval_step"] + 1 < len(definition.get("approval") or []):
        return None
    year = datetime.fromisoformat(task["due_at"]).year
    rating = [s.item(task["definition_id"]) for _, s in schemes_scoring(session, task["definition_id"], year)]
    maxima = [item.quality.max for item in rating if item is not None and item.quality is not None]
    return min(maxima) if maxima else None


def award_quality_on_approval(session: Session, rt: Any, actor: Actor, task_id: int, typed: str) -> None:
    """The approver's quality points, in the approval's own transaction (nothing when left blank)."""
    if not typed:
        return
    try:
        points = float(typed)
    except ValueError:
        raise InvalidInput([Problem(f"task {task_id}", "quality", "is not a number")]) from None
    try:
        assessment.award_quality(session, rt, actor, task_id, points)
    except InvalidInput as exc:
        # Beside the 质量评分 field, not above the page.
        raise InvalidInput([Problem(p.where, "quality", p.message) for p in exc.problems]) from None
