"""The caller's in-app inbox, and marking notices read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from duban.api.deps import Api
from duban.api.docs import ok
from duban.engine.overview import lookups

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])


class MarkRead(BaseModel):
    """Which notices to mark read; all unread ones when `ids` is absent."""

    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(default=None, max_length=1000)


@router.get(
    "",
    summary="My inbox",
    description="The caller's own notices, newest first; `unread` for unread only.",
    responses=ok(
        {
            "total": 1,
            "unread": 1,
            "limit": 50,
            "offset": 0,
            "items": [
                {
                    "id": 1,
                    "kind": "reminder",
                    "step": 0,
                    "task_id": 7,
                    "payload": {},
                    "created_at": "2026-03-02T09:00:00+08:00",
                    "read_at": None,
                }
            ],
        },
        401,
        422,
    ),
)
def list_(
    ctx: Api,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> dict[str, Any]:
    with ctx.read() as s:
        return lookups.list_inbox(s, ctx.rt.tz, ctx.actor, unread, limit, offset)


@router.post(
    "/read",
    summary="Mark notices read",
    description="Only the caller's own notices change.",
    responses=ok({"marked": 1}, 401, 422),
)
def mark_read(ctx: Api, body: MarkRead | None = None) -> dict[str, int]:
    with ctx.write() as s:
        return {"marked": lookups.mark_inbox_read(s, ctx.rt.now(), ctx.actor, (body or MarkRead()).ids)}
