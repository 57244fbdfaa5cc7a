"""Evidence files: downloaded by task and digest, only within the caller's scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse

from duban.api.deps import Api
from duban.api.docs import ok
from duban.engine.overview import lookups

router = APIRouter(prefix="/api/v1/files", tags=["tasks"])


@router.get(
    "/{task_id}/{sha256}",
    summary="Download an evidence file",
    description="The bytes of one file of a task the caller sees, with its checked content type; the "
    "user's file name is only suggested for saving.",
    responses=ok("(binary)", 401, 404, 422, media="application/octet-stream"),
)
def download(
    ctx: Api,
    task_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    sha256: Annotated[str, Path(pattern=r"^[0-9a-fA-F]{64}$")],
) -> FileResponse:
    with ctx.read() as s:
        row, blob = lookups.find_attachment(s, ctx.rt.data_dir, ctx.actor, task_id, sha256)
    return FileResponse(
        blob,
        media_type=row.content_type,
        filename=row.filename,
        headers={"X-Content-Type-Options": "nosniff"},
    )
