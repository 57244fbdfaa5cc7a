"""One way to say what is wrong with an input: a pydantic ValidationError as located problems.

Unit rows, people rows, the calendar override file and evidence forms are pydantic
models; each refusal is turned into `WHERE: field: message` by `problems_of`, so a
bad file, form or event reads the same wherever it came from. Validators raise
ValueError with the message a user reads, or `FieldProblem` when a rule about
several fields belongs to one of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from duban.engine.errors import Problem

# C0 controls except tab and newline, DEL and the C1 block, and the bidi embeddings,
# overrides and isolates that make text display in an order other than it is stored.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class FieldProblem(ValueError):
    """A rule across fields, reported against the field the user should change.

    `more` carries further (field, message) pairs, so a rule over a whole list names
    every offender at once.
    """

    def __init__(self, field: str, message: str, more: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.items = [(field, message), *more]

    @classmethod
    def of(cls, items: Sequence[tuple[str, str]]) -> FieldProblem:
        return cls(items[0][0], items[0][1], items[1:])


def plain_text(value: str, *, multiline: bool = False) -> str:
    """Refuse control characters (tab and newline only where the text may span lines)."""
    found = (_CONTROL if multiline else _CONTROL_OR_BREAK).search(value)
    if found:
        raise ValueError(
            f"contains the control character U+{ord(found.group()):04X} at character {found.start() + 1}; "
            "remove it (often pasted in by accident)"
        )
    return value


def show(value: Any) -> str:
    """A value as a user would recognise it in a message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def dotted(loc: Sequence[Any]) -> str:
    """A pydantic location as the field path users read: years.2027.holidays[0]."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _bound(word: str, key: str) -> Any:
    return lambda ctx, given: f"must be {word} {ctx[key]}, got {show(given)}"


_MESSAGES: dict[str, Any] = {
    "missing": lambda ctx, given: "required, but missing",
    "int_type": lambda ctx, given: f"expected a whole number, got {show(given)}",
    "int_parsing": lambda ctx, given: f"expected a whole number, got {show(given)}",
    "int_from_float": lambda ctx, given: f"expected a whole number, got {show(given)}",
    "float_type": lambda ctx, given: f"expected a number, got {show(given)}",
    "float_parsing": lambda ctx, given: f"expected a number, got {show(given)}",
    "bool_type": lambda ctx, given: f"expected true or false, got {show(given)}",
    "bool_parsing": lambda ctx, given: f"expected true or false, got {show(given)}",
    "enum": lambda ctx, given: f"{show(given)} is not one of {ctx.get('expected', '')}",
    "literal_error": lambda ctx, given: f"{show(given)} is not one of {ctx.get('expected', '')}",
    "greater_than_equal": _bound("at least", "ge"),
    "greater_than": _bound("more than", "gt"),
    "less_than_equal": _bound("at most", "le"),
    "less_than": _bound("less than", "lt"),
    "string_too_short": lambda ctx, given: (
        "must not be empty"
        if ctx.get("min_length") == 1
        else f"must have at least {ctx['min_length']} characters"
    ),
    "model_type": lambda ctx, given: f"expected a mapping (key: value), got {show(given)}",
    "model_attributes_type": lambda ctx, given: f"expected a mapping (key: value), got {show(given)}",
    "dict_type": lambda ctx, given: f"expected a mapping (key: value), got {show(given)}",
    "list_type": lambda ctx, given: f"expected a list such as [a, b], got {show(given)}",
    "extra_forbidden": lambda ctx, given: "unknown field",
}


def message_of(error: Any) -> str:
    """The message of one pydantic error, in the words the rest of duban uses."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind == "string_type":
        hint = "; put it in quotes" if isinstance(given, (int, float)) else ""
        return f"expected text, got {show(given)}{hint}"
    make = _MESSAGES.get(kind)
    return make(ctx, given) if make else str(error["msg"])


def problems_of(
    exc: ValidationError, where: str, prefix: str = "", wording: dict[str, str] | None = None
) -> list[Problem]:
    """Every error of `exc` as a Problem at `where`, its field path under `prefix` (e.g. "form").

    `wording` replaces the message of an error type where the input has a word of its own
    (a form's unknown field is "no such field in this task's form").
    """
    out = []
    for error in exc.errors(include_url=False):
        # A dict key's own error ends in "[key]": the key is the field the user wrote.
        loc: tuple[Any, ...] = tuple(part for part in error["loc"] if part != "[key]")
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblem):
            out += [Problem(where, _join(prefix, dotted((*loc, f))), m) for f, m in cause.items]
            continue
        message = (wording or {}).get(error["type"]) or message_of(error)
        out.append(Problem(where, _join(prefix, dotted(loc)), message))
    return out


def _join(prefix: str, path: str) -> str:
    return f"{prefix}.{path}" if prefix and path else (prefix or path)
