"""The ASGI layers around every request: its id and access line, the body cap and early sign-in check,
and the security headers.

Plain ASGI rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware streams every
response through a task and a memory channel, which cost the to-do route about a fifth of its time.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

import anyio.to_thread
from fastapi import Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from duban.api import errors
from duban.engine.access import sessions
from duban.engine.errors import Unauthenticated
from duban.engine.store.db import read_session
from duban.logs import request_id

log = logging.getLogger("duban.api")
access = logging.getLogger("duban.access")
COOKIE = b"duban_session"
# Routes that take a body from someone not yet signed in.
OPEN_BODIES = ("/api/v1/auth/token", "/login")


class TooLarge(HTTPException):
    """The body grew past the cap while it was being read (a chunked body declares no length)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request is larger than {max_bytes} bytes")


def _has_body(headers: dict[bytes, bytes]) -> bool:
    length = headers.get(b"content-length")
    return b"transfer-encoding" in headers or (length is not None and length not in (b"", b"0"))


def _token_of(headers: dict[bytes, bytes], path: str) -> str | None:
    if path.startswith("/api/"):
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, value = auth.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    for part in headers.get(b"cookie", b"").split(b";"):
        name, _, value = part.strip().partition(b"=")
        if name == COOKIE:
            return value.decode("latin-1")
    return None


class BodyLimit:
    """Cap a request body while it streams in, and refuse a stranger's body before reading a byte.

    The declared Content-Length is checked first (413 at once); a chunked body is counted as it
    arrives and refused as soon as it passes the cap, so nothing larger is ever spooled. A body
    sent to a route that needs a signed-in caller is not read until the caller's token is checked:
    a bad token answers 401 (the API) or goes to the sign-in page (the web UI) with the body unread.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if not _has_body(headers):
            await self.app(scope, receive, send)
            return
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        refusal = await self._stranger(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._capped(scope, receive, send)

    async def _stranger(self, scope: Scope, headers: dict[bytes, bytes]) -> Response | None:
        path: str = scope["path"]
        if path in OPEN_BODIES or not path.startswith(("/api/", "/ui/")):
            return None
        token = _token_of(headers, path)
        state = scope["app"].state
        try:
            await anyio.to_thread.run_sync(_verify, state, token)
        except Unauthenticated as exc:
            if path.startswith("/api/"):
                response = errors.problem(*errors.status_of(exc), exc.message, errors.type_of(exc))
                response.headers["WWW-Authenticate"] = "Bearer"
                return response
            return RedirectResponse("/login", status_code=303)
        return None

    async def _capped(self, scope: Scope, receive: Receive, send: Send) -> None:
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge(self.max_bytes)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except TooLarge:
            if started:
                raise
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response: Response
        if scope["path"].startswith(("/ui/", "/login")):
            # A person sent it (a phone's photos, typically): a page in their words.
            from duban.api.web.error_pages import html_error

            response = await anyio.to_thread.run_sync(html_error, Request(scope), 413)
        else:
            response = errors.problem(413, "Refused", f"the request is larger than {self.max_bytes} bytes")
        # The client may still be sending: say the connection ends rather than read the rest.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _verify(state: object, token: str | None) -> None:
    with read_session(state.engine) as s:  # type: ignore[attr-defined]
        sessions.verify_token(s, state.runtime.now(), token)  # type: ignore[attr-defined]


# Scripts only from this server, never inline; style attributes are allowed (the report's bars
# set their width with one), style sheets only from here. Nothing may frame a page.
CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; style-src-elem 'self'; "
    b"style-src-attr 'unsafe-inline'; img-src 'self' data:; font-src 'self'; object-src 'none'; "
    b"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeaders:
    """Add the security headers a response does not set itself, and answer any unforeseen error.

    An error no handler knows is logged and answered here, inside this layer, so even a 500 carries
    the headers: problem+json under /api, a short page elsewhere. Never a traceback to the client.
    """

    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy", CSP),
        (b"cross-origin-opener-policy", b"same-origin"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await _server_error(scope["path"])(scope, receive, send_with_headers)


def _server_error(path: str) -> Response:
    if path.startswith("/api/") or path == "/openapi.json":
        return errors.problem(500, "Server error", "the server failed on this request; it was logged")
    return HTMLResponse(
        "<!doctype html><html lang=zh-CN><meta charset=utf-8><title>出错了</title>"
        "<p>服务器处理此请求时出错，已记录。请稍后再试。</p>"
        "<p>The server failed on this request; it was logged.</p></html>",
        status_code=500,
    )


# An id a proxy or client may choose: short, and nothing a log line could be forged with.
SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{8,64}")


class RequestContext:
    """Give every request an id and log one access line for it.

    The id is the caller's `X-Request-ID` when it is sane (a proxy's id joins the two logs), else a
    new one; it goes back in the response's `X-Request-ID` and into every line logged while the
    request is handled (`duban.logs.request_id`). The access line names the method, the path
    without its query string, the status and the time taken; never a header, so never a token or
    a cookie.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        rid = given.decode("ascii") if SANE_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access.isEnabledFor(logging.INFO):
                ms = round((time.perf_counter() - started) * 1000, 1)
                method, path = scope.get("method", ""), scope.get("path", "")
                access.info(
                    "%s %s %s %.1f ms",
                    method,
                    path,
                    status,
                    ms,
                    extra={"method": method, "path": path, "status": status, "duration_ms": ms},
                )
            request_id.reset(token)
