"""Evidence forms: each field type with a valid and an invalid value, and the rules across fields."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from duban.engine.errors import InvalidInput
from duban.engine.language.model import Completion
from duban.engine.work.evidence import validate_form

TODAY = date(2026, 6, 15)


def check(form_spec: dict[str, Any], form: dict[str, Any], period: str = "2026") -> dict[str, Any]:
    completion = Completion.model_validate({"form": form_spec})
    return validate_form(completion, form, period, "task 7", TODAY)


def refusal(form_spec: dict[str, Any], form: dict[str, Any], period: str = "2026") -> list[str]:
    with pytest.raises(InvalidInput) as refused:
        check(form_spec, form, period)
    return [str(p) for p in refused.value.problems]


VALID = [
    ({"type": "string"}, "职工之家", "职工之家"),
    ({"type": "string", "min": 2, "max": 4}, "四个字啊", "四个字啊"),
    ({"type": "text"}, "第一行\n第二行\t缩进", "第一行\n第二行\t缩进"),
    ({"type": "integer", "min": 1}, "12", 12),
    ({"type": "integer"}, 3.0, 3),
    ({"type": "number", "max": 10}, "9.5", 9.5),
    ({"type": "boolean"}, "是", True),
    ({"type": "boolean"}, "false", False),
    ({"type": "choice", "options": ["a", "b"]}, "b", "b"),
    ({"type": "date"}, "2026-02-03", "2026-02-03"),
    ({"type": "date", "in_period": True}, "2026-12-31", "2026-12-31"),
    ({"type": "date", "max": "today"}, "2026-06-15", "2026-06-15"),
]

INVALID = [
    ({"type": "string", "max": 3}, "四个字啊", "at most 3 characters"),
    ({"type": "string", "min": 2}, "一", "at least 2 characters"),
    ({"type": "string"}, "第一行\n第二行", "control character U+000A"),
    ({"type": "string"}, "名称\x1b[31m", "control character U+001B"),
    ({"type": "text"}, "abc\u202edef", "control character U+202E"),
    ({"type": "text"}, "bell\x07", "control character U+0007"),
    ({"type": "integer"}, "1.5", "'1.5' is not a whole number"),
    ({"type": "integer"}, 1.5, "1.5 is not a whole number"),
    ({"type": "integer"}, True, "True is not a whole number"),
    ({"type": "integer", "min": 1}, 0, "at least 1"),
    ({"type": "number"}, "nan", "'nan' is not a number"),
    ({"type": "number"}, "inf", "'inf' is not a number"),
    ({"type": "number", "max": 10}, 10.5, "at most 10"),
    ({"type": "boolean"}, "maybe", "'maybe' is not true or false"),
    ({"type": "choice", "options": ["a", "b"]}, "c", "'c' is not one of a, b"),
    ({"type": "date"}, "2026-02-30", "'2026-02-30' is not a date (YYYY-MM-DD)"),
    ({"type": "date", "in_period": True}, "2025-12-31", "outside the task's period 2026"),
    ({"type": "date", "max": "today"}, "2026-06-16", "2026-06-16 is after today (2026-06-15)"),
]


@pytest.mark.parametrize(("spec", "raw", "expected"), VALID)
def test_a_valid_value_is_kept_typed(spec: dict[str, Any], raw: Any, expected: Any) -> None:
    assert check({"f": spec}, {"f": raw}) == {"f": expected}


@pytest.mark.parametrize(("spec", "raw", "message"), INVALID)
def test_an_invalid_value_is_refused_naming_the_field(spec: dict[str, Any], raw: Any, message: str) -> None:
    (problem,) = refusal({"f": spec}, {"f": raw})
    assert problem.startswith("task 7: form.f: ")
    assert message in problem, problem


def test_required_missing_and_unknown_fields_are_each_named() -> None:
    problems = refusal(
        {"held_on": {"type": "date", "required": True}, "n": {"type": "integer", "required": True}},
        {"n": "", "extra": 1},
    )
    assert sorted(problems) == [
        "task 7: form.extra: no such field in this task's form",
        "task 7: form.held_on: required",
        "task 7: form.n: required",
    ]


def test_an_optional_field_left_blank_is_left_out() -> None:
    assert check({"note": {"type": "text"}, "n": {"type": "integer"}}, {"note": "", "n": None}) == {}


FORM = {
    "members_total": {"type": "integer", "required": True, "min": 1},
    "attendees": {"type": "integer", "required": True, "max": "members_total"},
    "held_on": {"type": "date", "required": True, "max": "today"},
}


def test_a_bound_may_name_another_field() -> None:
    ok = check(FORM, {"members_total": 85, "attendees": 85, "held_on": "2026-06-01"})
    assert ok == {"members_total": 85, "attendees": 85, "held_on": "2026-06-01"}
    assert refusal(FORM, {"members_total": 85, "attendees": 90, "held_on": "2026-06-01"}) == [
        "task 7: form.attendees: 90 is more than members_total (85)"
    ]


def test_every_cross_field_problem_is_named_at_once() -> None:
    problems = refusal(FORM, {"members_total": 85, "attendees": 90, "held_on": "2026-07-01"})
    assert problems == [
        "task 7: form.attendees: 90 is more than members_total (85)",
        "task 7: form.held_on: 2026-07-01 is after today (2026-06-15)",
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"n": {"type": "integer", "max": "nope"}}, "bound 'nope' is not another field"),
        ({"n": {"type": "integer", "max": "d"}, "d": {"type": "date"}}, "compare like with like"),
        ({"d": {"type": "date", "max": 5}}, "today or the name of another date field"),
        ({"d": {"type": "date", "max": "d"}}, "is not today or another field"),
        ({"s": {"type": "string", "max": "n"}, "n": {"type": "integer"}}, "a number of characters"),
    ],
)
def test_a_bound_that_names_nothing_is_refused_when_the_definition_loads(
    spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Completion.model_validate({"form": spec})
