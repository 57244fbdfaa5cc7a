"""Assignments: preview what an assignment would create, create it, list and withdraw."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from duban.api.deps import Api
from duban.api.docs import ok
from duban.engine.work import fanout

router = APIRouter(prefix="/api/v1/assignments", tags=["assignments"])
PREVIEW = {
    "definition_id": "member-congress",
    "version": 1,
    "title": "会员代表大会",
    "title_en": "Member congress",
    "scope": "K01",
    "units": {"grassroots": 2},
    "defaults": ["due"],
    "tasks": 2,
    "period": "2026",
    "timeline": {
        "trigger_at": "2026-01-01T00:00:00+08:00",
        "due_at": "2026-12-31T23:59:59+08:00",
        "due_moved_from": None,
        "late_assignment": None,
    },
}


# Codes and definition ids are printable text: a control character (NUL among them) is refused here.
CODE = r"^[^\x00-\x1f\x7f]+$"


class Scope(BaseModel):
    """A definition, the unit whose subtree receives it, an optional due date and late-assignment rule."""

    definition: str = Field(max_length=64, pattern=CODE, examples=["member-congress"])
    scope: str = Field(max_length=64, pattern=CODE, examples=["K01"])
    due: date | None = None
    late: str | None = Field(
        default=None,
        max_length=32,
        pattern=CODE,
        description="When the definition's fixed date has already passed: `skip` opens the next period, "
        "`grace:P30D` gives that long from the assignment (the definition's rule, by default grace:P30D).",
        examples=["grace:P30D"],
    )


class NewAssignment(Scope):
    """As a preview, plus an end date and numeric targets per unit code."""

    until: date | None = None
    targets: dict[Annotated[str, Field(max_length=64, pattern=CODE)], float] | None = Field(
        default=None, examples=[{"G01": 5}]
    )


class Withdrawal(BaseModel):
    """Why the assignment is withdrawn."""

    reason: str = Field(default="", max_length=2000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")


@router.post(
    "/preview",
    summary="Preview an assignment",
    description="What assigning would create — units per level, the number of tasks, the period and the "
    "shared timeline — without creating anything. An admin, within its subtree.",
    responses=ok(PREVIEW),
)
def preview(ctx: Api, body: Scope) -> dict[str, Any]:
    with ctx.read() as s:
        return fanout.preview_assignment(
            s, ctx.rt, ctx.actor, body.definition, body.scope, body.due, fanout.late_rule(body.late)
        )


@router.post(
    "",
    status_code=201,
    summary="Assign a definition",
    description="Assign the newest version of a definition to a unit's subtree and create its first tasks "
    "(one transaction). An admin, within its subtree.",
    responses=ok(
        {"assignment_id": 3, "created": 2, "period": "2026", "due_at": "2026-12-31T23:59:59+08:00"},
        status=201,
    ),
)
def create(ctx: Api, body: NewAssignment) -> dict[str, Any]:
    with ctx.write() as s:
        return fanout.assign_definition(
            s,
            ctx.rt,
            ctx.actor,
            body.definition,
            body.scope,
            due=body.due,
            until=body.until,
            targets=body.targets,
            late=fanout.late_rule(body.late),
        ).to_json()


@router.get(
    "",
    summary="Assignments",
    description="Assignments inside the caller's subtree and those whose scope covers the caller's unit.",
    responses=ok(
        [
            {
                "id": 3,
                "definition_id": "member-congress",
                "scope": "K01",
                "state": "active",
                "trigger": "every",
            }
        ],
        401,
    ),
)
def list_(ctx: Api) -> list[dict[str, Any]]:
    with ctx.read() as s:
        return fanout.list_assignments(s, ctx.actor)


@router.post(
    "/{assignment_id}/withdraw",
    summary="Withdraw an assignment",
    description="Cancel its unfinished tasks. An admin of the issuing unit or above; others see 404.",
    responses=ok({"assignment_id": 3, "cancelled": 2}),
)
def withdraw(
    ctx: Api, assignment_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: Withdrawal | None = None
) -> dict[str, Any]:
    with ctx.write() as s:
        n = fanout.withdraw_assignment(s, ctx.rt, ctx.actor, assignment_id, (body or Withdrawal()).reason)
    return {"assignment_id": assignment_id, "cancelled": n}
