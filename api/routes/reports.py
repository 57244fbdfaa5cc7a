"""Roll-up reports: per child unit and per definition, as JSON or XLSX."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from duban.api.deps import Api
from duban.api.docs import ok
from duban.engine.overview import reports, workbook

router = APIRouter(prefix="/api/v1/units", tags=["reports"])
XLSX = workbook.XLSX_MEDIA_TYPE
Code = Annotated[str, Path(max_length=64, description="the unit's code")]
Definition = Annotated[str | None, Query(max_length=64, description="only this definition")]
Period = Annotated[
    str | None,
    Query(max_length=16, description="only tasks of this period: 2026, 2026-H1, 2026-Q1, 2026-03, 2026-W10"),
]
ROW = {
    "tasks": 4,
    "done": 2,
    "submitted": 1,
    "open": 1,
    "waived": 0,
    "cancelled": 0,
    "overdue": 1,
    "escalated": 0,
    "late": 0,
    "progress": 0.0,
    "target": None,
    "done_pct": 50.0,
    "on_time_pct": 66.7,
}
REPORT = {
    "unit": {"code": "K01", "name": "莞城街道总工会", "level": "county"},
    "as_of": "2026-03-02T09:00:00+08:00",
    "definition": None,
    "period": "2026",
    "total": ROW,
    "own": None,
    "children": [{"code": "T01", "name": "莞城社区工会联合会", "level": "township", **ROW}],
    "definitions": [{"definition_id": "member-congress", "title": "每年至少召开一次会员大会", **ROW}],
    "matrix": [{"code": "T01", "cells": {"member-congress": ROW}}],
}


def _xlsx(ctx: Api, code: str, definition: str | None, period: str | None) -> Response:
    with ctx.read() as s:
        report = reports.rollup(s, ctx.rt.now(), ctx.actor, code, definition, period, ctx.rt.tz)
    return Response(
        workbook.rollup_workbook(report),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="report-{report["unit"]["code"]}.xlsx"'},
    )


@router.get(
    "/{code}/report",
    summary="Roll-up report",
    description="How the unit's subtree is doing: one row per child unit, per definition and per child × "
    "definition (tasks, done, submitted, open, overdue, escalated, done late, rates, progress, target), read "
    "from the counts the task moves keep. `period` keeps the tasks whose trigger falls in it (a recurring "
    "task's own period). `format=xlsx` answers a workbook instead.",
    responses=ok(REPORT)
    | {200: {"description": "OK", "content": {"application/json": {"example": REPORT}, XLSX: {}}}},
)
def report(
    ctx: Api,
    code: Code,
    definition: Definition = None,
    period: Period = None,
    format: Annotated[Literal["json", "xlsx"], Query()] = "json",
) -> Any:
    if format == "xlsx":
        return _xlsx(ctx, code, definition, period)
    with ctx.read() as s:
        return reports.rollup(s, ctx.rt.now(), ctx.actor, code, definition, period, ctx.rt.tz)


@router.get(
    "/{code}/report.xlsx",
    summary="Roll-up report as XLSX",
    description="The roll-up report as a workbook (Chinese headers and level names, item titles, the as-of "
    "time, a totals row; values only, no formulas): child units, items, and the unit × item matrix.",
    responses=ok("(binary)", media=XLSX),
)
def report_xlsx(ctx: Api, code: Code, definition: Definition = None, period: Period = None) -> Response:
    return _xlsx(ctx, code, definition, period)
