"""Plans: the documents whose items are assigned together; list them, assign one whole."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from duban.api.deps import Api
from duban.api.docs import ok
from duban.api.routes.assignments import CODE
from duban.engine.language.plans import load_plans, plan_by_id
from duban.engine.work import fanout, plans

router = APIRouter(prefix="/api/v1/plans", tags=["plans"])
PlanId = Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]


class PlanScope(BaseModel):
    """The unit whose subtree receives every item, the date of the items the plan leaves to the assigner."""

    scope: str = Field(max_length=64, pattern=CODE, examples=["C01"])
    due: date | None = Field(
        default=None, description="the date of the items whose plan leaves it to the assigner (择期)"
    )
    until: date | None = None
    late: str | None = Field(default=None, max_length=32, pattern=CODE, examples=["grace:P30D"])


@router.get(
    "",
    summary="Plans",
    description="The plans this deployment offers (DUBAN_PLANS_DIR, or the three of the seed): id, title, "
    "source document, year and item ids in the document's order. Any signed-in account.",
    responses=ok(
        [{"id": "city-union-opinions", "title": "…", "source_document": "…", "year": 2026, "items": ["…"]}],
        401,
    ),
)
def list_(ctx: Api) -> list[dict[str, Any]]:
    return [
        {
            "id": p.plan.id,
            "title": p.plan.title,
            "title_en": p.plan.title_en,
            "source_document": p.plan.source_document,
            "year": p.plan.year,
            "items": p.plan.items,
        }
        for p in load_plans(ctx.settings.plans_folder())
    ]


@router.post(
    "/{plan_id}/assign",
    status_code=201,
    summary="Assign a whole plan",
    description="Assign every item of the plan to the scope in one transaction; if any item is refused, "
    "nothing is assigned and every refused item is named. An admin, within its subtree.",
    responses=ok(
        {"plan": "city-union-opinions", "scope": "C01", "created": 120, "items": [{"definition": "…"}]},
        status=201,
    ),
)
def assign(ctx: Api, plan_id: PlanId, body: PlanScope) -> dict[str, Any]:
    plan = plan_by_id(ctx.settings.plans_folder(), plan_id)
    with ctx.write() as s:
        return plans.assign_plan(
            s,
            ctx.rt,
            ctx.actor,
            plan,
            body.scope,
            due=body.due,
            until=body.until,
            late=fanout.late_rule(body.late),
        ).to_json()
