"""督办: the late tasks escalated to a unit (the caller's own by default)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from duban.api.deps import Api
from duban.api.docs import TASK_EXAMPLE, ok
from duban.engine.overview import tasks

router = APIRouter(prefix="/api/v1/supervision", tags=["tasks"])


@router.get(
    "",
    summary="Supervision list (督办)",
    description="Unfinished tasks escalated to the caller's unit, or to `unit` (in the caller's subtree). "
    "`waiting_for` says who must act next: the task's own unit (`role` branch), or, while the work waits "
    "for approval, the approving unit (`role` approver).",
    responses=ok(
        [
            TASK_EXAMPLE
            | {
                "supervised_since": "2027-01-01T00:00:00+08:00",
                "waiting_for": {"role": "branch", "unit_code": "G01", "unit_name": "华达电子有限公司工会"},
            }
        ],
        401,
        404,
        422,
    ),
)
def list_(ctx: Api, unit: Annotated[str | None, Query(max_length=64)] = None) -> list[dict[str, Any]]:
    with ctx.read() as s:
        return tasks.supervision_list(s, ctx.rt.tz, ctx.actor, unit)
