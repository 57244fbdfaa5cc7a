"""考核 and 台账 over HTTP: a union's assessment (scores, ranking), a unit's score card, closing it, bonus points, ledgers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from duban.api.deps import Api
from duban.api.docs import ok
from duban.engine.assess import assessment, ledger
from duban.engine.assess.versions import list_schemes

router = APIRouter(prefix="/api/v1", tags=["assessment"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Code = Annotated[
    str, Path(max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$", description="the assessing union's code")
]
Scheme = Annotated[str, Query(max_length=64, pattern=r"^[a-z0-9-]+$", description="the scoring scheme's id")]
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
ROW = {
    "code": "T01",
    "name": "莞城社区工会联合会",
    "level": "township",
    "parent": "K01",
    "rank": 1,
    "score": 88.0,
    "points": 100.0,
    "bonus": 2.0,
    "normalized": 90.0,
}
CARD = {
    **ROW,
    "bonuses": [
        {"item": "model-home", "label": "获评模范职工之家", "points": 2.0, "reason": "获评市级模范职工之家"}
    ],
    "items": [
        {
            "definition": "member-congress-annual",
            "title": "每年至少召开一次会员（代表）大会",
            "points": 20,
            "tasks": 1,
            "done": 1,
            "late": 0,
            "missing": 0,
            "rejections": 1,
            "completion": 20.0,
            "quality": 0.0,
            "deductions": [{"why": "rejected", "count": 1, "each": -2, "points": -2}],
            "score": 18.0,
        },
    ],
}
Unit = Annotated[
    str, Path(max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$", description="the assessed unit's code")
]


@router.get(
    "/schemes",
    summary="Scoring schemes",
    description="The newest version of every scoring scheme (考核细则).",
    responses=ok([{"id": "county-2026", "version": 1, "title": "2026年度考核细则", "year": 2026}]),
)
def schemes(ctx: Api) -> list[dict[str, Any]]:
    with ctx.read() as s:
        return list_schemes(s)


@router.get(
    "/units/{code}/assessment",
    summary="A union's assessment",
    description="Every unit below the union scored under the scheme for its year, ranked among its own level, "
    "each with its totals (its item-by-item breakdown is its score card, `…/assessment/card/{unit}`). "
    "Frozen once the union has closed the year (`closed: true`).",
    responses=ok(
        {"scheme": {"id": "county-2026", "year": 2026}, "closed": False, "levels": {"township": [ROW]}}
    ),
)
def show(ctx: Api, code: Code, scheme: Scheme) -> dict[str, Any]:
    with ctx.read() as s:
        return assessment.assess(s, ctx.rt, ctx.actor, scheme, code)


@router.get(
    "/units/{code}/assessment/card/{unit}",
    summary="A unit's score card",
    description="One unit below the union: its totals and rank among its level (`ranked` units in all), every "
    "item it had tasks of with what it gave or cost (completion, quality, each deduction), and its bonuses. "
    "From the frozen results once the union has closed the year. 404 when the unit has nothing scored.",
    responses=ok(
        {"scheme": {"id": "county-2026", "year": 2026}, "closed": False, "card": CARD, "ranked": 12}
    ),
)
def show_card(ctx: Api, code: Code, unit: Unit, scheme: Scheme) -> dict[str, Any]:
    with ctx.read() as s:
        return assessment.unit_card(s, ctx.rt, ctx.actor, scheme, code, unit)


@router.post(
    "/units/{code}/assessment/close",
    summary="Close (freeze) an assessment",
    description="Admins of the union or above. Later changes no longer move the scores.",
    responses=ok(
        {"scheme": "county-2026", "unit": "K01", "year": 2026, "state": "closed", "units": 12}, 403, 404, 409
    ),
)
def close(ctx: Api, code: Code, scheme: Scheme) -> dict[str, Any]:
    with ctx.write() as s:
        return assessment.close_assessment(s, ctx.rt, ctx.actor, scheme, code)


class Reopen(BaseModel):
    """Why a closed assessment is opened again."""

    reason: str = Field(min_length=1, max_length=500, pattern=TEXT)


@router.post(
    "/units/{code}/assessment/reopen",
    summary="Reopen a closed assessment",
    description="Audited, with its reason; the scores follow the tasks again.",
    responses=ok({"scheme": "county-2026", "unit": "K01", "year": 2026, "state": "open"}, 403, 404, 409, 422),
)
def reopen(ctx: Api, code: Code, scheme: Scheme, body: Reopen) -> dict[str, Any]:
    with ctx.write() as s:
        return assessment.reopen_assessment(s, ctx.rt, ctx.actor, scheme, code, body.reason)


class BonusAward(BaseModel):
    """Bonus points (加分) for a unit below the assessing union."""

    unit: str = Field(max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
    bonus: str = Field(max_length=64, pattern=r"^[a-z0-9-]+$")
    points: float = Field(gt=0, le=1000, allow_inf_nan=False)
    reason: str = Field(min_length=1, max_length=500, pattern=TEXT)


@router.post(
    "/units/{code}/assessment/bonus",
    summary="Give bonus points",
    description="Admins of the assessing union or above, within the bonus item's maximum.",
    responses=ok(
        {"scheme": "county-2026", "unit": "G01", "bonus": "model-home", "points": 3}, 403, 404, 409, 422
    ),
)
def bonus(ctx: Api, code: Code, scheme: Scheme, body: BonusAward) -> dict[str, Any]:
    with ctx.write() as s:
        return assessment.award_bonus(
            s, ctx.rt, ctx.actor, scheme, code, body.unit, body.bonus, body.points, body.reason
        )


Definition = Annotated[
    str, Query(max_length=64, pattern=r"^[a-z0-9-]+$", description="the item (definition id)")
]
Period = Annotated[
    str | None, Query(max_length=16, pattern=r"^[0-9A-Z-]+$", description="e.g. 2026, 2026-H1, 2026-03")
]


@router.get(
    "/units/{code}/ledger",
    summary="A ledger (台账)",
    description="One item's submitted figures under the union: a row per task (state, dates, evidence count, "
    "form values), the item's measures per child unit and in total (approved work only), and the same period "
    "a year before. `format=xlsx` answers the workbook a county hands to the city.",
    responses=ok(
        {"definition": {"id": "send-warmth-campaign"}, "total": {"households": 15}, "rows": [], "tasks": []}
    ),
)
def show_ledger(
    ctx: Api, code: Code, definition: Definition, period: Period = None, format: str = "json"
) -> Any:
    with ctx.read() as s:
        book = ledger.ledger(s, ctx.rt, ctx.actor, definition, code, period)
    if format != "xlsx":
        return book
    name = f"ledger-{definition}-{book['unit']['code']}{'-' + period if period else ''}.xlsx"
    return Response(
        ledger.ledger_workbook(book),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
