"""Events: post one (a cadre appointed, a member's birthday…); the tasks it calls for are created."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field

from duban.api.deps import Api
from duban.api.docs import ok
from duban.engine.work import fanout

router = APIRouter(prefix="/api/v1/events", tags=["events"])


class Event(BaseModel):
    """What happened, where, to whom and when."""

    name: str = Field(max_length=64, examples=["cadre.appointed"])
    unit: str = Field(max_length=64, examples=["G01"])
    subject: str = Field(default="", max_length=64, examples=["P-1001"])
    label: str = Field(
        default="",
        max_length=100,
        description="What the event is, in words, when it is not about a person; shown with its tasks",
        examples=["某电子厂欠薪集体反映"],
    )
    at: AwareDatetime | None = Field(default=None, description="with its offset; now by default")
    data: dict[str, Any] | None = None


@router.post(
    "",
    status_code=201,
    summary="Post an event",
    description="Creates one task per active event-triggered assignment whose scope holds the unit. "
    "Admin or staff within the subtree.",
    responses=ok({"created": [12]}, status=201),
)
def post(ctx: Api, body: Event) -> dict[str, Any]:
    at: datetime | None = body.at
    with ctx.write() as s:
        return {
            "created": fanout.post_event(
                s,
                ctx.rt,
                ctx.actor,
                body.name,
                body.unit,
                subject=body.subject,
                label=body.label,
                at=at,
                data=body.data,
            )
        }
