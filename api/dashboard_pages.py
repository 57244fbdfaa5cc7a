"""进度总览: the dashboard page of a unit and its Excel export, with the signed-in session (no bearer token).

Every figure is read from the task counts (engine/overview/dashboard.py) and is a link to the
task list that holds it (/ui/tasks?unit=CODE&subtree=1&state=…&overdue=1&definition=ID); the
charts are SVG drawn here, sized by attributes and coloured by classes in duban.css, so the
page needs no script and no inline style.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from duban.api.errors import status_of
from duban.api.i18n import lang_of
from duban.api.web import Caller, page, to_login
from duban.api.web.common import when
from duban.api.web.refusals import as_context
from duban.engine.errors import DubanError
from duban.engine.glossary import label
from duban.engine.overview import dashboard as board
from duban.engine.overview import lookups, tasks, workbook
from duban.engine.store.models import TaskState

router = APIRouter(include_in_schema=False)

WORDS: dict[str, tuple[str, str]] = {
    "title": ("进度总览", "Progress overview"),
    "as_of": ("统计截至", "As of"),
    "export": ("导出 Excel", "Export to Excel"),
    "item": ("任务项", "Item"),
    "all_items": ("全部任务项", "All items"),
    "show": ("查看", "Show"),
    "total": ("合计", "Total"),
    "own": ("本级任务", "Own tasks"),
    "tasks": ("任务数", "Tasks"),
    "done": ("已完成", "Done"),
    "submitted": ("待审核", "Awaiting approval"),
    "open": ("待办理", "Open"),
    "overdue": ("已逾期", "Overdue"),
    "escalated": ("已督办", "Escalated"),
    "late": ("逾期完成", "Done late"),
    "done_pct": ("完成率", "Done"),
    "on_time_pct": ("按时完成率", "On time"),
    "ranking": ("下级单位排名", "Child units, best first"),
    "rank": ("第{n}名", "No. {n}"),
    "matrix": ("单位 × 任务项", "Units × items"),
    "matrix_note": (
        "每格：已完成/应完成，红字为已逾期；横向滑动查看全部任务项",
        "Each cell: done/due, overdue in red; scroll sideways for every item",
    ),
    "unit": ("单位", "Unit"),
    "light.green": ("绿灯", "Green"),
    "light.yellow": ("黄灯", "Yellow"),
    "light.red": ("红灯", "Red"),
    "light.none": ("暂无到期任务", "Nothing due yet"),
    "legend": (
        "按时完成率 ≥ {green}% 为绿灯，≥ {yellow}% 为黄灯，低于 {yellow}% 为红灯",
        "On time ≥ {green}%: green; ≥ {yellow}%: yellow; below {yellow}%: red",
    ),
    "no_children": ("没有下级单位", "No child units"),
    "no_tasks": ("暂无任务", "No tasks yet"),
    "breadcrumb": ("所在层级", "Where you are"),
    "waiting": ("进行中", "Under way"),
    "chart": (
        "{name}：已完成 {done}，待审核 {submitted}，待办理 {open}，其中已逾期 {overdue}",
        "{name}: done {done}, awaiting approval {submitted}, open {open}, of which overdue {overdue}",
    ),
}


def words(lang: str) -> Any:
    def w(key: str, **values: Any) -> str:
        zh, en = WORDS[key]
        return (en if lang == "en" else zh).format(**values)

    return w


def task_link(code: str, **filters: Any) -> str:
    """The task list of a unit's subtree narrowed by `filters` (state, overdue, definition)."""
    query = {"unit": code, "subtree": 1, **{k: v for k, v in filters.items() if v not in (None, "", False)}}
    return "/ui/tasks?" + urlencode({k: 1 if v is True else v for k, v in query.items()})


def stack(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A stacked bar of the row's work — done, under way, overdue — as rectangles in a 100-wide box."""
    parts = {
        "done": row["done"],
        "waiting": max(row["open"] + row["submitted"] - row["overdue"], 0),
        "overdue": row["overdue"],
    }
    whole = sum(parts.values())
    rects, x = [], 0.0
    for name, n in parts.items():
        if whole and n:
            width = 100.0 * n / whole
            rects.append({"part": name, "x": round(x, 3), "width": round(width, 3), "n": n})
            x += width
    return rects


def ring(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The total as a ring: one arc per part, as stroke-dasharray lengths on a circle of circumference 100."""
    arcs, offset = [], 0.0
    for rect in stack(row):
        arcs.append(
            {"part": rect["part"], "dash": f"{rect['width']} {100 - rect['width']}", "offset": -offset}
        )
        offset += rect["width"]
    return arcs


def _lights(ctx: Any) -> board.Lights:
    settings = ctx.settings
    return board.Lights(green=settings.light_green, yellow=settings.light_yellow)


EXPORT_LIMIT = 20_000  # rows of one task-list workbook; the sheet says when more matched
FLAGS = ("1", "on", "true")


def list_filter(request: Request, ctx: Any) -> tasks.TaskFilter:
    """The task list's filters from its query (unit, subtree, state, overdue, definition)."""
    q = request.query_params
    state = q.get("state") or None
    return tasks.TaskFilter(
        unit=(q.get("unit") or "")[:64] or ctx.actor.unit_code,
        subtree=q.get("subtree", q.get("sub", "1")) in FLAGS,
        state=state if state in TaskState.__members__ else None,
        overdue=True if q.get("overdue", q.get("late")) in FLAGS else None,
        definition=(q.get("definition") or q.get("item") or "")[:64] or None,
        limit=tasks.MAX_PAGE,
    )


def filter_words(f: tasks.TaskFilter, unit_name: str, titles: dict[str, str], lang: str) -> list[str]:
    w = words(lang)
    out = [f"{w('unit')}：{unit_name}"]
    if f.definition:
        out.append(f"{w('item')}：{titles.get(f.definition, f.definition)}")
    if f.state:
        out.append(label(f"state.{f.state}", lang))
    if f.overdue:
        out.append(w("overdue"))
    return out


@router.get("/ui/tasks.xlsx", response_model=None)
def tasks_xlsx(request: Request, ctx: Caller) -> Response:
    """The task list as filtered on the page, as a workbook (every matching row up to EXPORT_LIMIT)."""
    if ctx is None:
        return to_login()
    lang = lang_of(request)
    f = list_filter(request, ctx)
    now = ctx.rt.now()
    try:
        with ctx.read() as s:
            code = f.unit or ""
            unit_name = lookups.show_unit(s, ctx.actor, code)["name"]
            items, total = [], 0
            while len(items) < EXPORT_LIMIT:
                doc = tasks.list_tasks(s, now, ctx.rt.tz, ctx.actor, replace(f, offset=len(items)))
                total = doc["total"]
                items += doc["items"]
                if not doc["items"] or len(items) >= total:
                    break
    except DubanError as exc:
        return page(request, "error.html", ctx, status=status_of(exc)[0], error=exc)
    titles = {t["definition_id"]: t["title"] for t in items}
    body = workbook.tasks_workbook(
        items[:EXPORT_LIMIT],
        unit_name=unit_name,
        filters=filter_words(f, unit_name, titles, lang),
        total=total,
        now=now.astimezone(ctx.rt.tz),
        lang=lang,
    )
    return Response(
        body,
        media_type=workbook.XLSX_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="tasks-{code}.xlsx"; '
            f"filename*=UTF-8''{quote(unit_name + '任务清单.xlsx')}",
            "Cache-Control": "no-store",
        },
    )


@router.get("/ui/dashboard/{code}.xlsx", response_model=None)
def dashboard_xlsx(request: Request, ctx: Caller, code: str) -> Response:
    if ctx is None:
        return to_login()
    definition = request.query_params.get("definition") or None
    try:
        with ctx.read() as s:
            doc = board.dashboard(s, ctx.rt.now(), ctx.actor, code, _lights(ctx), definition)
    except DubanError as exc:
        return page(request, "error.html", ctx, status=status_of(exc)[0], **as_context(exc, lang_of(request)))
    name = quote(f"{doc['unit']['name']}进度总览.xlsx")
    return Response(
        workbook.rollup_workbook(doc, lang_of(request)),
        media_type=workbook.XLSX_MEDIA_TYPE,
        headers={
            "Content-Disposition": f"attachment; filename=\"dashboard-{code}.xlsx\"; filename*=UTF-8''{name}",
            "Cache-Control": "no-store",
        },
    )


@router.get("/ui/dashboard", response_model=None)
@router.get("/ui/dashboard/{code}", response_model=None)
def dashboard_page(request: Request, ctx: Caller, code: str | None = None) -> Response:
    if ctx is None:
        return to_login()
    lang = lang_of(request)
    code = code or ctx.actor.unit_code
    definition = (request.query_params.get("definition") or "")[:64] or None
    try:
        with ctx.read() as s:
            doc = board.dashboard(s, ctx.rt.now(), ctx.actor, code, _lights(ctx), definition)
    except DubanError as exc:
        return page(request, "error.html", ctx, status=status_of(exc)[0], **as_context(exc, lang_of(request)))
    export = f"/ui/dashboard/{quote(code)}.xlsx" + (
        f"?{urlencode({'definition': definition})}" if definition else ""
    )
    response = page(
        request,
        "dashboard.html",
        ctx,
        d=doc,
        w=words(lang),
        level=lambda lv: label(f"level.{lv}", lang),
        link=lambda unit, **f: task_link(unit, **({"definition": definition} | f)),
        stack=stack,
        ring=ring,
        export=export,
        as_of=when(doc["as_of"], lang, clock=True),
        unfinished=(TaskState.open.value, TaskState.submitted.value),
    )
    response.headers["Cache-Control"] = "no-store"
    return response
