"""Definitions: the catalog (list, show) and uploading YAML files, all or nothing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Path, UploadFile

from duban.api.deps import Api
from duban.api.docs import ok
from duban.engine.errors import DefinitionError
from duban.engine.language.loader import MAX_FILE_BYTES, parse_definition_bytes
from duban.engine.overview import lookups
from duban.engine.work import catalog

router = APIRouter(prefix="/api/v1/definitions", tags=["definitions"])
DEF = {
    "id": "member-congress",
    "version": 1,
    "title": "每年至少召开一次会员代表大会",
    "title_en": "Hold a member congress every year",
    "source": "意见 二(一)",
    "loaded_at": "2026-03-02T01:00:00+00:00",
}


@router.get(
    "",
    summary="The definitions",
    description="The newest version of every stored definition.",
    responses=ok([DEF], 401),
)
def list_(ctx: Api) -> list[dict[str, Any]]:
    with ctx.read() as s:
        return lookups.list_definitions(s)


@router.get(
    "/{def_id}",
    summary="One definition",
    description="The newest version, parsed and as YAML text.",
    responses=ok(DEF | {"definition": {"id": "member-congress"}, "yaml": "id: member-congress\n…"}, 401, 404),
)
def show(ctx: Api, def_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    with ctx.read() as s:
        return lookups.show_definition(s, def_id)


@router.post(
    "",
    summary="Upload definitions (YAML)",
    description="One or more YAML files (`files`). Every file is validated first; if any is refused, "
    "nothing is stored and every problem is listed as `where` = FILE:LINE, `field`, `message`. A changed "
    "file becomes the definition's next version. Admins only.",
    responses=ok([{"id": "member-congress", "version": 1, "status": "new"}]),
)
def upload(
    ctx: Api, files: Annotated[list[UploadFile], File(description="definition files (*.yaml)")]
) -> list[dict[str, object]]:
    loaded, problems = [], []
    for f in files:
        name = (f.filename or "upload.yaml").rsplit("/", 1)[-1]
        try:
            loaded.append(parse_definition_bytes(f.file.read(MAX_FILE_BYTES + 1), name))
        except DefinitionError as exc:  # gather every file's problems before refusing
            problems += exc.problems
    if problems:
        raise DefinitionError(problems)
    with ctx.write() as s:
        return [r.to_json() for r in catalog.store_definitions(s, ctx.rt.now(), ctx.actor, loaded)]
