"""Signing in and out, the favicon, and the front door."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from duban.api.deps import COOKIE
from duban.api.errors import status_of
from duban.api.i18n import lang_of
from duban.api.routes.auth import issue
from duban.api.web.common import Caller, page, posted, redirect, to_login
from duban.api.web.refusals import as_context
from duban.engine.access import sessions
from duban.engine.errors import DubanError, Throttled, Unauthenticated

router = APIRouter()
FAVICON = Path(__file__).parent.parent / "static" / "favicon.svg"


@router.get("/")
def front() -> Response:
    return redirect("/ui")


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return page(request, "login.html", None)


@router.post("/login", response_model=None)
async def login(request: Request) -> Response:
    try:
        form = await posted(request, None)
        issued = issue(request, str(form.get("username", ""))[:64], str(form.get("password", ""))[:256])
    except (Unauthenticated, Throttled) as exc:
        return page(
            request, "login.html", None, status=status_of(exc)[0], **as_context(exc, lang_of(request))
        )
    except DubanError as exc:
        return page(
            request, "login.html", None, status=status_of(exc)[0], **as_context(exc, lang_of(request))
        )
    response = redirect("/ui")
    response.set_cookie(
        COOKIE,
        issued.token,
        max_age=issued.expires_in,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", response_model=None)
async def logout(request: Request, ctx: Caller) -> Response:
    if ctx is not None:
        await posted(request, ctx)
        with ctx.write() as s:
            sessions.revoke_token(s, ctx.rt.now(), ctx.token)
    response = to_login()
    response.delete_cookie(COOKIE)
    return response
