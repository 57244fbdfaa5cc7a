"""The working calendar: which years it knows, and the working days of a month."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from duban.api.deps import Api
from duban.api.docs import ok
from duban.engine.overview import lookups

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])


@router.get(
    "",
    summary="Working calendar",
    description="The calendar's status (known years, warnings) and each day of `month` (YYYY-MM, the "
    "current month by default) with whether it is a working day on the statutory calendar.",
    responses=ok(
        {
            "status": {"known_years": [2025, 2026], "ok": True, "warnings": []},
            "month": "2026-10",
            "days": [{"date": "2026-10-01", "workday": False, "known": True}],
        },
        401,
        422,
    ),
)
def month(
    ctx: Api, month: Annotated[str | None, Query(max_length=7, examples=["2026-10"])] = None
) -> dict[str, Any]:
    return lookups.calendar_month(ctx.rt.calendar, ctx.rt.local(ctx.rt.now()).date(), month)
