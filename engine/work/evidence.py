"""Checking the evidence of a submission against the definition's `completion`.

The form is a pydantic model built per definition (`form_model`): each field converts
and checks its value, then the bounds that name another field or today are checked
across the form. Refusals name the field; nothing is stored unless everything is valid.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)

from duban.engine.errors import InvalidInput, Problem
from duban.engine.language.model import Completion, FormField
from duban.engine.time.bounds import year_problem
from duban.engine.time.periods import parse_period
from duban.engine.validation import FieldProblem, plain_text, problems_of

WORDING = {"extra_forbidden": "no such field in this task's form", "missing": "required"}
_TRUE = ("true", "1", "yes", "是")
_FALSE = ("false", "0", "no", "否")


def validate_form(
    completion: Completion, form: dict[str, Any], period_label: str, where: str, today: date | None = None
) -> dict[str, Any]:
    """The form's values, typed; InvalidInput naming every bad field."""
    given = {name: raw for name, raw in form.items() if raw is not None and raw != ""}
    try:
        clean = form_model(completion, period_label, today).model_validate(given)
    except ValidationError as exc:
        raise InvalidInput(problems_of(exc, where, "form", WORDING)) from None
    return clean.model_dump(exclude_none=True)


def form_model(completion: Completion, period_label: str, today: date | None) -> type[BaseModel]:
    """The model of one definition's form, for one task's period (and today's date, for `max: today`)."""
    fields: dict[str, Any] = {
        name: (
            Annotated[Any, BeforeValidator(_converter(spec, period_label))],
            Field(...) if spec.required else Field(default=None),
        )
        for name, spec in completion.form.items()
    }

    def cross_field(model: BaseModel) -> BaseModel:
        values = model.__dict__
        found = [
            problem
            for name, spec in completion.form.items()
            if values.get(name) is not None
            for problem in _compare(name, spec, values, today)
        ]
        if found:
            raise FieldProblem.of(found)
        return model

    return create_model(  # type: ignore[call-overload,no-any-return]
        "Form",
        __config__=ConfigDict(extra="forbid"),
        __validators__={"cross_field": model_validator(mode="after")(cross_field)},
        **fields,
    )


def _compare(name: str, spec: FormField, values: dict[str, Any], today: date | None) -> list[tuple[str, str]]:
    """Bounds that name today or another field: checked once every field has its value."""
    value = values[name]
    dated = spec.type == "date"
    found = []
    for bound, low in ((spec.min, True), (spec.max, False)):
        if not isinstance(bound, str):
            continue
        if bound == "today" and today is not None:
            limit: Any = today.isoformat()
            shown = f"today ({limit})"
        elif values.get(bound) is not None:
            limit, shown = values[bound], f"{bound} ({values[bound]})"
        else:
            continue
        if low and value < limit:
            found.append((name, f"{value} is {'before' if dated else 'less than'} {shown}"))
        elif not low and value > limit:
            found.append((name, f"{value} is {'after' if dated else 'more than'} {shown}"))
    return found


def _converter(spec: FormField, period_label: str) -> Callable[[Any], Any]:
    convert = _CONVERTERS[spec.type]

    def check(raw: Any) -> Any:
        if raw is None:
            return None
        return convert(spec, raw, period_label)

    return check


def _text(spec: FormField, raw: Any, _: str) -> str:
    value = plain_text(str(raw), multiline=spec.type == "text")
    _bounds(len(value), spec, "characters")
    return value


def _integer(spec: FormField, raw: Any, _: str) -> int:
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise ValueError(f"{raw!r} is not a whole number")
    try:
        value = int(raw)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{raw!r} is not a whole number") from None
    _bounds(value, spec, "")
    return value


def _number(spec: FormField, raw: Any, _: str) -> float:
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{raw!r} is not a number") from None
    if isinstance(raw, bool) or not math.isfinite(number):
        raise ValueError(f"{raw!r} is not a number")
    _bounds(number, spec, "")
    return number


def _boolean(spec: FormField, raw: Any, _: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if str(raw).lower() in _TRUE:
        return True
    if str(raw).lower() in _FALSE:
        return False
    raise ValueError(f"{raw!r} is not true or false")


def _choice(spec: FormField, raw: Any, _: str) -> str:
    if str(raw) not in (spec.options or []):
        raise ValueError(f"{raw!r} is not one of {', '.join(spec.options or [])}")
    return str(raw)


def _date(spec: FormField, raw: Any, period_label: str) -> str:
    try:
        day = date.fromisoformat(str(raw))
    except ValueError:
        raise ValueError(f"{raw!r} is not a date (YYYY-MM-DD)") from None
    if (problem := year_problem(day)) is not None:
        raise ValueError(problem)
    if spec.in_period and period_label:
        period = parse_period(period_label)
        if not period.contains(day):
            raise ValueError(
                f"{day} is outside the task's period {period_label} ({period.start} to {period.end})"
            )
    return day.isoformat()


_CONVERTERS: dict[str, Callable[[FormField, Any, str], Any]] = {
    "string": _text,
    "text": _text,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "choice": _choice,
    "date": _date,
}


def _bounds(value: float, spec: FormField, what: str) -> None:
    suffix = f" {what}" if what else ""
    if isinstance(spec.min, float) and value < spec.min:
        raise ValueError(f"at least {spec.min:g}{suffix}")
    if isinstance(spec.max, float) and value > spec.max:
        raise ValueError(f"at most {spec.max:g}{suffix}")


def check_attachments(completion: Completion, labels: list[str | None], already: int, where: str) -> None:
    """Refuse a submission whose files fall short of what the definition asks."""
    spec = completion.attachments
    if spec is None:
        if labels:
            raise InvalidInput([Problem(where, "attachments", "this task takes no files")])
        return
    total = already + len(labels)
    problems = []
    if total < spec.min:
        problems.append(Problem(where, "attachments", f"at least {spec.min} file(s) needed, {total} given"))
    if total > spec.max:
        problems.append(Problem(where, "attachments", f"at most {spec.max} file(s), {total} given"))
    for label in labels:
        if label is not None and spec.labels and label not in spec.labels:
            problems.append(
                Problem(where, "attachments", f"unknown label {label!r}; one of {', '.join(spec.labels)}")
            )
    if problems:
        raise InvalidInput(problems)
