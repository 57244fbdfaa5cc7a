"""The statutory working-day calendar, checked day by day against the State Council's notices.

The vectors below are written out from 国务院办公厅关于2025年部分节假日安排的通知
(国办发明电〔2024〕12号, 12 November 2024) and 国务院办公厅关于2026年部分节假日安排的通知
(4 November 2025), not derived from the package the calendar reads, so a wrong
package release fails here.
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from duban.engine.errors import InvalidInput
from duban.engine.time.calendar import (
    WorkCalendar,
    YearSchedule,
    load_override,
    package_schedules,
    parse_override,
)


def _span(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _days(year: int, spans: list[tuple[tuple[int, int], tuple[int, int]]]) -> set[date]:
    return {day for (m1, d1), (m2, d2) in spans for day in _span(date(year, m1, d1), date(year, m2, d2))}


# 2025: 元旦 1/1; 春节 1/28-2/4 (1/26 周日, 2/8 周六 上班); 清明 4/4-4/6;
# 劳动节 5/1-5/5 (4/27 周日 上班); 端午 5/31-6/2; 国庆、中秋 10/1-10/8 (9/28 周日, 10/11 周六 上班).
REST_2025 = _days(
    2025,
    [
        ((1, 1), (1, 1)),
        ((1, 28), (2, 4)),
        ((4, 4), (4, 6)),
        ((5, 1), (5, 5)),
        ((5, 31), (6, 2)),
        ((10, 1), (10, 8)),
    ],
)
WORK_2025 = {date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28), date(2025, 10, 11)}

# 2026: 元旦 1/1-1/3 (1/4 周日 上班); 春节 2/15-2/23 (2/14 周六, 2/28 周六 上班); 清明 4/4-4/6;
# 劳动节 5/1-5/5 (5/9 周六 上班); 端午 6/19-6/21; 中秋 9/25-9/27; 国庆 10/1-10/7 (9/20 周日, 10/10 周六 上班).
REST_2026 = _days(
    2026,
    [
        ((1, 1), (1, 3)),
        ((2, 15), (2, 23)),
        ((4, 4), (4, 6)),
        ((5, 1), (5, 5)),
        ((6, 19), (6, 21)),
        ((9, 25), (9, 27)),
        ((10, 1), (10, 7)),
    ],
)
WORK_2026 = {
    date(2026, 1, 4),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 5, 9),
    date(2026, 9, 20),
    date(2026, 10, 10),
}

# A made-up 2027 schedule for the override tests (the real one is published late in 2026).
OVERRIDE_2027 = """\
years:
  2027:
    holidays: [2027-01-01, 2027-02-06, 2027-02-07, 2027-02-08, 2027-02-09, 2027-02-10,
               2027-02-11, 2027-02-12, 2027-02-13]
    workdays: [2027-02-20]
"""


def _expected(day: date, rest: set[date], work: set[date]) -> bool:
    return day in work or (day.weekday() < 5 and day not in rest)


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return WorkCalendar.load(None)


@pytest.fixture(scope="module")
def through_2026() -> WorkCalendar:
    """The package's calendar cut at 2026, so these tests hold when the package learns 2027."""
    return WorkCalendar.load(None, base=_base_through_2026())


def _base_through_2026() -> dict[int, YearSchedule]:
    return {year: s for year, s in package_schedules().items() if year <= 2026}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the published years ----------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "rest", "work"), [(2025, REST_2025, WORK_2025), (2026, REST_2026, WORK_2026)]
)
def test_every_day_matches_the_state_council_notice(
    calendar: WorkCalendar, year: int, rest: set[date], work: set[date]
) -> None:
    assert calendar.is_known(year)
    wrong = [
        (day.isoformat(), calendar.is_workday(day))
        for day in _span(date(year, 1, 1), date(year, 12, 31))
        if calendar.is_workday(day) != _expected(day, rest, work)
    ]
    assert wrong == []


def test_vectors_are_what_the_notices_say() -> None:
    # Guard the vectors themselves: rest-day totals and the weekday of each adjusted working day.
    assert len(REST_2025) == 1 + 8 + 3 + 5 + 3 + 8
    assert len(REST_2026) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert all(day.weekday() >= 5 for day in WORK_2025 | WORK_2026)
    assert not (REST_2025 & WORK_2025) and not (REST_2026 & WORK_2026)


def test_known_years(calendar: WorkCalendar) -> None:
    years = calendar.known_years()
    assert years == sorted(years)
    assert {2024, 2025, 2026} <= set(years)
    assert not calendar.is_known(2100)


def test_datetime_is_refused(calendar: WorkCalendar) -> None:
    with pytest.raises(TypeError):
        calendar.is_workday(datetime(2026, 1, 1, 12, 0))  # naive on purpose


# --- walking working days ----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 2, 12), 1, date(2026, 2, 13)),  # Thu -> Fri
        (date(2026, 2, 12), 2, date(2026, 2, 14)),  # Sat 2/14 is an adjusted working day
        (date(2026, 2, 12), 3, date(2026, 2, 24)),  # then the Spring Festival break 2/15-2/23
        (date(2026, 2, 12), 10, date(2026, 3, 4)),  # 2/28 (Sat) counts
        (date(2026, 9, 30), 1, date(2026, 10, 8)),  # National Day 10/1-10/7
        (date(2026, 10, 9), 1, date(2026, 10, 10)),  # Sat 10/10 is an adjusted working day
        (date(2025, 12, 31), 1, date(2026, 1, 4)),  # New Year 1/1-1/3, Sun 1/4 works
        (date(2026, 2, 15), 1, date(2026, 2, 24)),  # start on a rest day
        (date(2026, 1, 1), 248, date(2026, 12, 31)),  # 2026 has 248 working days, 1/1 is rest
    ],
)
def test_add_workdays(calendar: WorkCalendar, start: date, n: int, expected: date) -> None:
    assert calendar.add_workdays(start, n) == (expected, False)


def test_add_workdays_counts_like_a_day_by_day_walk(calendar: WorkCalendar) -> None:
    start = date(2025, 11, 20)
    day, counted = start, 0
    while day < date(2026, 12, 31):
        day += timedelta(days=1)
        if calendar.is_workday(day):
            counted += 1
            assert calendar.add_workdays(start, counted) == (day, False)


def test_working_days_per_year(calendar: WorkCalendar) -> None:
    # 261 weekdays, less the rest days on weekdays (18 in 2025, 19 in 2026), plus the adjusted
    # Saturdays and Sundays.
    assert len(calendar.workdays_between(date(2025, 1, 1), date(2025, 12, 31))) == 261 - 18 + 5
    assert len(calendar.workdays_between(date(2026, 1, 1), date(2026, 12, 31))) == 261 - 19 + 6


def test_add_workdays_needs_a_positive_count(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError):
        calendar.add_workdays(date(2026, 1, 5), 0)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 9), date(2026, 3, 9)),  # a Monday is its own answer
        (date(2026, 3, 8), date(2026, 3, 6)),  # Sunday -> Friday
        (date(2026, 10, 7), date(2026, 9, 30)),  # inside National Day
        (date(2026, 2, 23), date(2026, 2, 14)),  # inside Spring Festival -> the Saturday that works
        (date(2026, 1, 3), date(2025, 12, 31)),  # across the year boundary
        (date(2025, 10, 11), date(2025, 10, 11)),  # an adjusted working Saturday
    ],
)
def test_last_workday_on_or_before(calendar: WorkCalendar, day: date, expected: date) -> None:
    assert calendar.last_workday_on_or_before(day) == (expected, False)


# --- unknown years -----------------------------------------------------------------


def test_unknown_year_keeps_weekends_and_the_laws_holidays(through_2026: WorkCalendar) -> None:
    assert not through_2026.is_known(2027)
    assert not through_2026.is_workday(date(2027, 1, 1))  # a Friday, but New Year's Day by law
    assert not through_2026.is_workday(date(2027, 1, 2))  # Saturday
    assert through_2026.is_workday(date(2027, 1, 4))
    assert through_2026.add_workdays(date(2026, 12, 30), 1) == (date(2026, 12, 31), False)
    assert through_2026.add_workdays(date(2026, 12, 30), 2) == (date(2027, 1, 4), True)
    # From 12/31 only 2027's days are consulted.
    assert through_2026.add_workdays(date(2026, 12, 31), 1) == (date(2027, 1, 4), True)
    assert through_2026.add_workdays(date(2027, 1, 4), 1) == (date(2027, 1, 5), True)
    assert through_2026.last_workday_on_or_before(date(2027, 1, 3)) == (date(2026, 12, 31), True)
    assert through_2026.last_workday_on_or_before(date(2026, 12, 31)) == (date(2026, 12, 31), False)


def test_unknown_year_before_the_package(calendar: WorkCalendar) -> None:
    assert not calendar.is_known(1990)
    assert calendar.add_workdays(date(1990, 1, 5), 1) == (date(1990, 1, 8), True)


def test_far_future_walk_is_fast(calendar: WorkCalendar) -> None:
    started = _time.perf_counter()
    day, provisional = calendar.add_workdays(date(2026, 1, 1), 3660)
    assert provisional and day.year >= 2040
    for _ in range(200_000):
        calendar.is_workday(date(2026, 5, 6))
    assert _time.perf_counter() - started < 2.0


# --- the override file ----------------------------------------------------------------


def test_override_adds_a_year(tmp_path: Path) -> None:
    cal = WorkCalendar.load(_write(tmp_path, OVERRIDE_2027), base=_base_through_2026())
    assert cal.is_known(2027)
    assert 2027 in cal.known_years()
    assert not cal.is_workday(date(2027, 1, 1))
    assert not cal.is_workday(date(2027, 2, 8))  # a Monday inside the made-up break
    assert cal.is_workday(date(2027, 2, 20))  # a Saturday made a working day
    assert cal.is_workday(date(2027, 2, 15))
    assert cal.add_workdays(date(2026, 12, 31), 1) == (date(2027, 1, 4), False)
    # The package's years are untouched.
    assert not cal.is_workday(date(2026, 10, 1))
    assert cal.is_workday(date(2026, 10, 10))
    assert cal.status(date(2026, 12, 1)).to_json()["override_years"] == [2027]


def test_override_year_replaces_the_packages(tmp_path: Path) -> None:
    text = "years:\n  2026:\n    holidays: [2026-01-01]\n    workdays: []\n"
    cal = WorkCalendar.load(_write(tmp_path, text))
    assert not cal.is_workday(date(2026, 1, 1))
    assert cal.is_workday(date(2026, 2, 16))  # no Spring Festival in this corrected year
    assert not cal.is_workday(date(2026, 2, 14))


def test_extra_holiday_and_workday(tmp_path: Path) -> None:
    text = "holidays: [2026-06-01, 2030-03-08]\nworkdays: [2026-05-10, 2026-10-01]\n"
    cal = WorkCalendar.load(_write(tmp_path, text))
    assert not cal.is_workday(date(2026, 6, 1))  # a Monday, now a local holiday
    assert cal.is_workday(date(2026, 5, 10))  # a Sunday, now a working day
    assert cal.is_workday(date(2026, 10, 1))  # the deployment's word wins over the package
    assert not cal.is_workday(date(2030, 3, 8))  # extras apply in unknown years too
    assert cal.add_workdays(date(2026, 5, 29), 1) == (date(2026, 6, 2), False)
    assert cal.last_workday_on_or_before(date(2026, 5, 10)) == (date(2026, 5, 10), False)


def test_empty_override_file_changes_nothing(tmp_path: Path, calendar: WorkCalendar) -> None:
    cal = WorkCalendar.load(_write(tmp_path, "# nothing yet\n"))
    assert cal.known_years() == calendar.known_years()


def test_quoted_dates_and_years_are_accepted() -> None:
    override = parse_override(
        'years:\n  "2027":\n    holidays: ["2027-01-01"]\nholidays: ["2026-06-01"]\n', "f"
    )
    assert override.years[2027].holidays == frozenset({date(2027, 1, 1)})
    assert override.holidays == frozenset({date(2026, 6, 1)})


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (
            "years:\n  2027:\n    holidays: [2027-01-01, 2027-02-06, 2027-02-07, 2027-02-30]\n",
            "years.2027.holidays[3]",
            "not a day of the calendar",
        ),
        (
            "years:\n  2027:\n    holidays: [2027-01-01, 2026-12-31]\n",
            "years.2027.holidays[1]",
            "not in 2027",
        ),
        ("years:\n  2027:\n    holidays: [2027-01-01, soon]\n", "years.2027.holidays[1]", "not a date"),
        ("years:\n  2027:\n    holidays: [2027-1-1]\n", "years.2027.holidays[0]", "not a date"),
        ("years:\n  2027:\n    holidays: 2027-01-01\n", "years.2027.holidays", "must be a list"),
        ("years:\n  2027:\n    holidays: []\n", "years.2027.holidays", "must list its holidays"),
        ("years:\n  2027:\n    workdays: [2027-02-20]\n", "years.2027.holidays", "must list its holidays"),
        (
            "years:\n  2027:\n    holidays: [2027-01-01]\n    workdays: [2027-02-20, 2027-01-01]\n",
            "years.2027.workdays[1]",
            "also listed as a holiday at years.2027.holidays[0]",
        ),
        ("years:\n  2027:\n    holidays: [2027-01-01]\n    rest: []\n", "years.2027.rest", "unknown key"),
        ("years:\n  twenty:\n    holidays: [2027-01-01]\n", "years.twenty", "four digits"),
        ("years:\n  1850:\n    holidays: [1850-01-01]\n", "years.1850", "outside"),
        ("years:\n  2027: [2027-01-01]\n", "years.2027", "must be a mapping"),
        ("years: [2027]\n", "years", "must be a mapping"),
        ("holiday: [2026-06-01]\n", "holiday", "unknown key"),
        ("holidays: [2026-06-01 09:00:00]\n", "holidays[0]", "not a date"),
        ("holidays: [2026-06-01]\nworkdays: [2026-06-01]\n", "workdays[0]", "also listed as a holiday"),
    ],
)
def test_bad_override_is_refused_with_its_location(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InvalidInput) as caught:
        WorkCalendar.load(path)
    problems = caught.value.problems
    assert [p.field for p in problems] == [field], problems
    assert problems[0].where == str(path)
    assert message in problems[0].message
    assert str(path) in str(caught.value) and field in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = "years:\n  2027:\n    holidays: [x, 2027-13-01]\nworkdays: [y]\nextra: 1\n"
    with pytest.raises(InvalidInput) as caught:
        WorkCalendar.load(_write(tmp_path, text))
    assert sorted(p.field for p in caught.value.problems) == [
        "extra",
        "workdays[0]",
        "years.2027.holidays[0]",
        "years.2027.holidays[1]",
    ]


@pytest.mark.parametrize(
    ("text", "where_suffix", "message"),
    [
        ("years:\n  2027:\n    holidays: [2027-01-01\n", ":4", "not valid YAML"),
        (
            "years:\n  2027:\n    holidays: [2027-01-01]\n  2027:\n    holidays: [2027-01-02]\n",
            ":4",
            "appears twice",
        ),
        ("- 2027-01-01\n", "", "must be a mapping"),
    ],
)
def test_unreadable_override_is_refused(tmp_path: Path, text: str, where_suffix: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InvalidInput) as caught:
        load_override(path)
    (problem,) = caught.value.problems
    assert problem.where == f"{path}{where_suffix}"
    assert message in problem.message


def test_missing_override_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        WorkCalendar.load(tmp_path / "nope.yaml")


# --- status -----------------------------------------------------------------------


def test_status_quiet_in_a_known_year(through_2026: WorkCalendar) -> None:
    status = through_2026.status(date(2026, 6, 1))
    assert status.ok and status.warnings == []
    data = status.to_json()
    assert data["last_known_year"] == 2026
    assert data["ok"] is True
    assert data["today"] == "2026-06-01"
    assert data["override_path"] is None


def test_status_warns_before_the_last_known_year_ends(through_2026: WorkCalendar) -> None:
    assert through_2026.status(date(2026, 11, 1)).ok  # 61 days left
    status = through_2026.status(date(2026, 11, 2))  # 60 days left
    assert not status.ok
    (warning,) = status.warnings
    assert "2027" in warning and "60 days" in warning
    assert through_2026.status(date(2026, 12, 1), warn_days=20).ok
    assert status.to_json()["warnings"] == [warning]


def test_status_warns_when_today_is_unknown(through_2026: WorkCalendar) -> None:
    status = through_2026.status(date(2027, 3, 1))
    (warning,) = status.warnings
    assert "does not know 2027" in warning and "provisional" in warning


def test_status_quiet_once_the_next_year_is_loaded(tmp_path: Path) -> None:
    cal = WorkCalendar.load(_write(tmp_path, OVERRIDE_2027), base=_base_through_2026())
    status = cal.status(date(2026, 12, 20))
    assert status.ok
    assert status.known_years[-1] == 2027
    assert status.to_json()["override_path"] == str(tmp_path / "calendar.yaml")
    assert not cal.status(date(2027, 12, 20)).ok
