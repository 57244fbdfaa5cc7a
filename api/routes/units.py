"""Units: the caller's subtree, one unit, and importing the tree (CSV or XLSX)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile

from duban.api.deps import Api
from duban.api.docs import ok
from duban.api.uploads import as_temp_file
from duban.engine.channels.targets import parse_hosts
from duban.engine.org.units import import_units, read_units
from duban.engine.overview import lookups

router = APIRouter(prefix="/api/v1/units", tags=["units"])
Code = Annotated[str, Path(max_length=64, description="the unit's code")]
UNIT = {
    "code": "T01",
    "name": "莞城社区工会联合会",
    "level": "township",
    "depth": 2,
    "tags": ["community"],
    "attrs": {},
    "parent_code": "K01",
}


@router.get(
    "",
    summary="Units of the caller's subtree",
    description="A page of the units in the caller's subtree (or under `root`, when the caller sees it), "
    "in tree order; optionally one `level`.",
    responses=ok({"total": 1, "limit": 50, "offset": 0, "items": [UNIT]}),
)
def list_(
    ctx: Api,
    root: Annotated[str | None, Query(max_length=64)] = None,
    level: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> dict[str, Any]:
    with ctx.read() as s:
        return lookups.list_units(s, ctx.actor, root, level, limit, offset)


@router.post(
    "/import",
    summary="Import units (CSV or XLSX)",
    description="Columns `code,name,parent_code,level,tags,attrs[,contacts]`; upsert by code. The file is "
    "refused whole, every problem named by row and column, and nothing changes. An admin, within its own "
    "subtree (a row outside it is refused).",
    responses=ok({"created": 10, "updated": 0, "moved": 0, "unchanged": 0}),
)
def import_(ctx: Api, file: Annotated[UploadFile, File(description="CSV or XLSX")]) -> dict[str, Any]:
    with as_temp_file(file, ctx.rt.max_upload_bytes) as path:
        units_file = read_units(path, parse_hosts(ctx.settings.webhook_hosts))  # parsed before the write lock
        with ctx.write() as s:
            return import_units(s, ctx.rt.now(), ctx.actor, units_file).to_json()


@router.get(
    "/{code}",
    summary="One unit",
    description="A unit of the caller's subtree with its children; any other answers 404.",
    responses=ok(
        UNIT | {"children": [{"code": "G01", "name": "华达电子有限公司工会", "level": "grassroots"}]}
    ),
)
def show(ctx: Api, code: Code) -> dict[str, Any]:
    with ctx.read() as s:
        return lookups.show_unit(s, ctx.actor, code)
