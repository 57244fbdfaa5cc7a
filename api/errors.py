"""The one place errors become HTTP: every DubanError (and request-validation failure) as problem+json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from duban.engine.errors import (
    Conflict,
    DatabaseBusy,
    DubanError,
    Forbidden,
    InvalidInput,
    NotFound,
    Throttled,
    Unauthenticated,
)

PROBLEM = "application/problem+json"

# Each kind of refusal as HTTP: (status, title). A subclass not listed answers as its nearest listed base.
STATUS: dict[type[DubanError], tuple[int, str]] = {
    DubanError: (400, "Refused"),
    InvalidInput: (422, "Invalid input"),
    NotFound: (404, "Not found"),
    Forbidden: (403, "Forbidden"),
    Conflict: (409, "Conflict"),
    Unauthenticated: (401, "Unauthenticated"),
    Throttled: (429, "Too many attempts"),
    DatabaseBusy: (503, "Busy"),
}


def status_of(exc: DubanError) -> tuple[int, str]:
    """The HTTP status and title of a refusal, from the table (nearest listed class first)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    raise AssertionError(f"{type(exc).__name__} is not a DubanError")


def type_of(exc: DubanError) -> str:
    return f"https://duban.dev/problems/{type(exc).__name__}"


def problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _page_error(request: Request, status: int, exc: DubanError | None = None) -> Response | None:
    """Under /ui a person is reading: an HTML page in their words instead of problem+json."""
    from duban.api.web.error_pages import html_error, is_page

    return html_error(request, status, exc) if is_page(request) else None


def duban_error(request: Request, exc: Exception) -> Response:
    """DubanError → its status, title and message; the problems of an InvalidInput as `errors`."""
    assert isinstance(exc, DubanError)
    if (html := _page_error(request, status_of(exc)[0], exc)) is not None:
        return html
    extra: dict[str, Any] = {}
    if isinstance(exc, InvalidInput):
        extra["errors"] = [{"where": p.where, "field": p.field, "message": p.message} for p in exc.problems]
    status, title = status_of(exc)
    response = problem(status, title, exc.message, type_of(exc), **extra)
    if isinstance(exc, Throttled | DatabaseBusy):
        response.headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthenticated):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own request checks, in the same shape as InvalidInput."""
    assert isinstance(exc, RequestValidationError)
    # A page address that does not fit (/ui/tasks/abc) is a page that does not exist.
    if (html := _page_error(request, 404)) is not None:
        return html
    errors = [
        {
            "where": str(e["loc"][0]) if e.get("loc") else "request",
            "field": ".".join(str(x) for x in e.get("loc", ())[1:]),
            "message": str(e.get("msg", "invalid")),
        }
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['where']} {e['field']}: {e['message']}".strip() for e in errors)
    return problem(422, "Invalid input", detail, "https://duban.dev/problems/InvalidInput", errors=errors)


def http_error(request: Request, exc: Exception) -> Response:
    """Framework-level refusals (unknown path, wrong method) in the same shape."""
    assert isinstance(exc, StarletteHTTPException)
    if (html := _page_error(request, exc.status_code)) is not None:
        return html
    response = problem(exc.status_code, str(exc.detail), str(exc.detail))
    for k, v in (exc.headers or {}).items():
        response.headers[k] = v
    return response


def data_error(request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot store or compare (PostgreSQL refuses NUL in text) is refused input, not a 500."""
    return problem(
        422,
        "Invalid input",
        "the request holds a character or value that cannot be stored",
        "https://duban.dev/problems/InvalidInput",
    )


def install(app: FastAPI) -> None:
    """Register the handlers."""
    app.add_exception_handler(DubanError, duban_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DataError, data_error)
