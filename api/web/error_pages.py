"""HTML error pages for the web UI (404, 403, 405, 500...): never raw JSON under /ui."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from duban.api.i18n import lang_of
from duban.api.web.common import page, signed_in
from duban.api.web.refusals import Refusal, as_context
from duban.engine.errors import DubanError, Forbidden, NotFound

PAGE_PREFIXES = ("/ui", "/login", "/logout")
_HEADLINES = {
    404: ("页面不存在，或不在您的管辖范围内", "This page does not exist, or is outside your units"),
    403: ("您无权进行此操作", "You may not do this"),
    405: ("此页面不能这样打开", "This page cannot be opened this way"),
    413: (
        "上传的内容太大：请减少一次上传的文件，或压缩照片后再试",
        "What was sent is too large: send fewer files at once, or smaller photos",
    ),
    500: ("系统出了点问题，请稍后再试", "Something went wrong; try again later"),
}


def is_page(request: Request) -> bool:
    return request.url.path.startswith(PAGE_PREFIXES)


def html_error(request: Request, status: int, exc: DubanError | None = None) -> Response:
    """The error page in the reader's language, with the header of a signed-in caller when there is one."""
    lang = lang_of(request)
    try:
        ctx = signed_in(request)
    except Exception:  # the database itself may be what failed
        ctx = None
    if exc is not None:
        values = as_context(exc, lang)
    else:
        words = _HEADLINES.get(status, _HEADLINES[500 if status >= 500 else 404])
        values = {"refused": Refusal(words[0 if lang == "zh" else 1], {}, []), "field_errors": {}}
    if status == 404 and exc is None:
        values = as_context(NotFound(""), lang) | {"refused": values["refused"]}
    if status == 403 and exc is None:
        values = as_context(Forbidden(""), lang)
    try:
        return page(request, "error.html", ctx, status=status, **values)
    except Exception:
        return Response(
            values["refused"].headline, status_code=status, media_type="text/plain; charset=utf-8"
        )
