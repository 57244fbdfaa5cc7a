"""The time rules of the definition language: each accepted form, and each refusal with its file, line and field."""

from __future__ import annotations

import pytest

from duban.engine.errors import DefinitionError
from duban.engine.language.loader import digest_of, parse_definition
from duban.engine.language.model import DueBeforeHoliday, DueSetAtAssignment, OnRestDay

HEAD = "id: x-item\ntitle: 测试\ntitle_en: Test\nsource: test\n"


def parse(body: str):  # type: ignore[no-untyped-def]
    return parse_definition(HEAD + body, "definitions/x.yaml").definition


def refusal(body: str) -> list[str]:
    with pytest.raises(DefinitionError) as refused:
        parse(body)
    return [str(p) for p in refused.value.problems]


def test_the_accepted_forms() -> None:
    held = parse("trigger: {every: year}\ndue: {before_holiday: spring_festival, workdays: 5}\n")
    assert held.due == DueBeforeHoliday(before_holiday="spring_festival", workdays=5)
    assert isinstance(parse("trigger: assigned\ndue: set_at_assignment\n").due, DueSetAtAssignment)
    half = parse("trigger: {every: year}\nwindow: first_half\n")
    assert (half.window.not_before, half.window.until) == ("01-01", "06-30")  # type: ignore[union-attr]
    later = parse('trigger: assigned\nwindow: {not_before: "07-01"}\n')
    assert (later.window.not_before, later.window.until) == ("07-01", "12-31")  # type: ignore[union-attr]
    assert (
        parse('trigger: {every: year}\ndue: {on: "03-08"}\non_rest_day: keep\n').on_rest_day == OnRestDay.keep
    )
    assert parse('trigger: {every: year}\ndue: {on: "03-08"}\n').on_rest_day == OnRestDay.next_working_day
    skip = parse('trigger: {every: year}\ndue: {on: "03-08"}\nlate_assignment: skip\n')
    assert skip.late_rule.skip
    grace = parse('trigger: {every: year}\ndue: {on: "03-08"}\nlate_assignment: {grace: P10D}\n')
    assert grace.late_rule.grace == "P10D"
    # Unwritten, the rule is 30 days' grace.
    assert parse('trigger: {every: year}\ndue: {on: "03-08"}\n').late_rule.grace == "P30D"


def test_new_fields_at_their_defaults_leave_the_digest_alone() -> None:
    plain = parse('trigger: {every: year}\ndue: {on: "03-08"}\n')
    spelled = parse('trigger: {every: year}\ndue: {on: "03-08"}\non_rest_day: next_working_day\n')
    kept = parse('trigger: {every: year}\ndue: {on: "03-08"}\non_rest_day: keep\n')
    assert digest_of(plain) == digest_of(spelled) != digest_of(kept)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "trigger: {every: year}\ndue: {before_holiday: spring, workdays: 5}\n",
            "definitions/x.yaml:6: due.before_holiday: 'spring' is not a statutory holiday (new_year, "
            "spring_festival, qingming, labour_day, dragon_boat, mid_autumn, national_day)",
        ),
        (
            "trigger: {every: year}\ndue: {before_holiday: qingming}\n",
            "definitions/x.yaml:6: due.workdays: required, but missing",
        ),
        (
            "trigger: {every: quarter}\ndue: {before_holiday: qingming, workdays: 2}\n",
            "definitions/x.yaml:6: due: before_holiday needs trigger every: year or assigned",
        ),
        (
            "trigger: {every: year}\ndue: set_at_assignment\n",
            "definitions/x.yaml:6: due: set_at_assignment needs trigger: assigned (one date for one task per unit)",
        ),
        (
            "trigger: {every: year}\nwindow: third_half\n",
            "definitions/x.yaml:6: window: 'third_half' is not a window; write first_half, second_half or "
            '{not_before: "07-01"}',
        ),
        (
            'trigger: {every: year}\nwindow:\n  not_before: "02-30"\n',
            "definitions/x.yaml:7: window.not_before: '02-30' is not a day of the year",
        ),
        (
            'trigger: {every: year}\nwindow: {notbefore: "07-01"}\n',
            "definitions/x.yaml:6: window.notbefore: unknown field 'notbefore'; did you mean 'not_before'?",
        ),
        (
            "trigger: {every: month}\nwindow: second_half\n",
            "definitions/x.yaml:6: window: a window within the year needs trigger every: year or assigned",
        ),
        (
            'trigger: {every: year}\nwindow: second_half\ndue: {on: "03-08"}\n',
            "definitions/x.yaml:6: window: the due date 03-08 is before the window opens",
        ),
        (
            'trigger: {every: year}\ndue: {on: "03-08"}\non_rest_day: later\n',
            "definitions/x.yaml:7: on_rest_day: 'later' is not one of 'next_working_day' or 'keep'",
        ),
        (
            'trigger: {every: year}\ndue: {on: "03-08"}\nlate_assignment: never\n',
            "definitions/x.yaml:7: late_assignment: 'never' is not a late-assignment rule; write skip or "
            "{grace: P30D}",
        ),
        (
            'trigger: {every: year}\ndue: {on: "03-08"}\nlate_assignment:\n  grace: PT12H\n',
            "definitions/x.yaml:8: late_assignment.grace: 'PT12H': a grace period is whole days, e.g. P30D",
        ),
        (
            "trigger: {every: year}\ndue: end_of_period\nlate_assignment: skip\n",
            "definitions/x.yaml:7: late_assignment: only a fixed date (on, before_holiday, a window's end) "
            "can have passed at assignment",
        ),
    ],
)
def test_each_refusal_names_file_line_and_field(body: str, expected: str) -> None:
    assert refusal(body) == [expected]
