"""进度总览 (/ui/dashboard, the header's link) and /ui/report: the roll-up by child unit, each count a list."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from duban.api.errors import status_of
from duban.api.i18n import lang_of
from duban.api.web.common import Caller, page, to_login
from duban.api.web.refusals import as_context
from duban.engine.errors import DubanError
from duban.engine.overview import reports

router = APIRouter()


@router.get("/ui/dashboard", response_model=None)
@router.get("/ui/report", response_model=None)
@router.get("/ui/report/{code}", response_model=None)
def report(request: Request, ctx: Caller, code: str | None = None) -> Response:
    if ctx is None:
        return to_login()
    try:
        with ctx.read() as s:
            doc = reports.rollup(s, ctx.rt.now(), ctx.actor, code or ctx.actor.unit_code)
    except DubanError as exc:
        return page(request, "error.html", ctx, status=status_of(exc)[0], **as_context(exc, lang_of(request)))
    return page(request, "report.html", ctx, report=doc)
