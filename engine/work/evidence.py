"""Checking the evidence of a submission against the definition's `completion`.

Refusals name the field; nothing is stored unless everything is valid.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from duban.engine.errors import InvalidInput, Problem
from duban.engine.language.model import Completion, FormField
from duban.engine.time.periods import parse_period


def validate_form(
    completion: Completion, form: dict[str, Any], period_label: str, where: str
) -> dict[str, Any]:
    """The form's values, typed; InvalidInput naming every bad field."""
    problems: list[Problem] = []
    unknown = sorted(set(form) - set(completion.form))
    for name in unknown:
        problems.append(Problem(where, f"form.{name}", "no such field in this task's form"))
    clean: dict[str, Any] = {}
    for name, spec in completion.form.items():
        raw = form.get(name)
        if raw is None or raw == "":
            if spec.required:
                problems.append(Problem(where, f"form.{name}", "required"))
            continue
        try:
            clean[name] = _value(spec, raw, period_label)
        except ValueError as exc:
            problems.append(Problem(where, f"form.{name}", str(exc)))
    if problems:
        raise InvalidInput(problems)
    return clean


def _value(spec: FormField, raw: Any, period_label: str) -> Any:
    if spec.type in ("string", "text"):
        value = str(raw)
        _bounds(len(value), spec, "characters")
        return value
    if spec.type == "integer":
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError(f"{raw!r} is not a whole number")
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{raw!r} is not a whole number") from None
        _bounds(value, spec, "")
        return value
    if spec.type == "number":
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{raw!r} is not a number") from None
        if isinstance(raw, bool) or not math.isfinite(number):
            raise ValueError(f"{raw!r} is not a number")
        _bounds(number, spec, "")
        return number
    if spec.type == "boolean":
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "1", "yes", "是"):
            return True
        if str(raw).lower() in ("false", "0", "no", "否"):
            return False
        raise ValueError(f"{raw!r} is not true or false")
    if spec.type == "choice":
        if str(raw) not in (spec.options or []):
            raise ValueError(f"{raw!r} is not one of {', '.join(spec.options or [])}")
        return str(raw)
    try:
        day = date.fromisoformat(str(raw))
    except ValueError:
        raise ValueError(f"{raw!r} is not a date (YYYY-MM-DD)") from None
    if spec.in_period and period_label:
        period = parse_period(period_label)
        if not period.contains(day):
            raise ValueError(
                f"{day} is outside the task's period {period_label} ({period.start} to {period.end})"
            )
    return day.isoformat()


def _bounds(value: float, spec: FormField, what: str) -> None:
    suffix = f" {what}" if what else ""
    if spec.min is not None and value < spec.min:
        raise ValueError(f"at least {spec.min:g}{suffix}")
    if spec.max is not None and value > spec.max:
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
