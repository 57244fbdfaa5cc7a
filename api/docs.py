"""OpenAPI helpers: the problem+json schema, the error responses every route may give, examples."""

from __future__ import annotations

from typing import Any

PROBLEM = "application/problem+json"
# An RFC 9457 problem document; `errors` lists each problem of an invalid input (422).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["where", "field", "message"],
                "properties": {
                    "where": {"type": "string"},
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


_EXAMPLES = {
    400: ("Refused", "the request was refused"),
    401: ("Unauthenticated", "sign in first: no bearer token was given"),
    403: ("Forbidden", "only an admin may approve"),
    404: ("Not found", "unit K09 not found"),
    409: ("Conflict", "cannot approve task 7: it is open"),
    413: ("Refused", "the upload is too large"),
    422: ("Invalid input", "task 7: trained_on: required"),
    429: ("Too many attempts", "too many failed sign-ins; try again in 840 seconds"),
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses, with an example each."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        title, detail = _EXAMPLES[code]
        example: dict[str, Any] = {"type": "about:blank", "title": title, "status": code, "detail": detail}
        if code == 422:
            example["errors"] = [{"where": "task 7", "field": "trained_on", "message": "required"}]
        out[code] = {
            "description": title,
            "content": {PROBLEM: {"schema": PROBLEM_SCHEMA, "example": example}},
        }
    return out


STD = (400, 401, 403, 404, 409, 422)


def ok(
    example: Any, *codes: int, status: int = 200, media: str = "application/json"
) -> dict[int | str, dict[str, Any]]:
    """A success response with its example, plus the usual errors (or `codes`)."""
    out = errors(*(codes or STD))
    out[status] = {"description": "OK", "content": {media: {"example": example}}}
    return out


TASK_EXAMPLE = {
    "id": 7,
    "definition_id": "member-congress",
    "assignment_id": 2,
    "unit_code": "G01",
    "unit_name": "华达电子有限公司工会",
    "subject": None,
    "period": "2026",
    "state": "open",
    "due_at": "2026-12-31T23:59:59.999999+08:00",
    "overdue_at": "2027-01-01T00:00:00+08:00",
    "escalation_level": 0,
    "next_action_at": "2026-12-01T09:00:00+08:00",
    "progress": 0.0,
    "progress_own": 0.0,
    "progress_children": 0.0,
    "target": None,
    "calendar_provisional": False,
    "title": "每年至少召开一次会员代表大会",
}
PAGE_EXAMPLE = {"total": 1, "limit": 50, "offset": 0, "items": [TASK_EXAMPLE]}
