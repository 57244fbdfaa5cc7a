"""The law's fixed holidays, rest-day moves, windows, holiday-relative deadlines and late assignment."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from duban.engine.errors import InvalidInput
from duban.engine.language.model import Definition, LateAssignment
from duban.engine.time.calendar import WorkCalendar, package_schedules
from duban.engine.time.holidays import HOLIDAY_NAMES, statutory_days, statutory_rest_days
from duban.engine.time.periods import parse_period
from duban.engine.time.timeline import Timeline, compute_timeline

TZ = ZoneInfo("Asia/Shanghai")

# The package's names for the holidays, by the names definitions use.
PACKAGE_NAMES = {
    "new_year": "New Year's Day",
    "spring_festival": "Spring Festival",
    "qingming": "Tomb-sweeping Day",
    "labour_day": "Labour Day",
    "dragon_boat": "Dragon Boat Festival",
    "mid_autumn": "Mid-autumn Festival",
    "national_day": "National Day",
}


def make(**fields: Any) -> Definition:
    base: dict[str, Any] = {"id": "test-item", "title": "测试", "title_en": "Test", "source": "test"}
    base.setdefault("trigger", "assigned")
    base.update(fields)
    return Definition.model_validate(base)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    # Cut at 2026 so "2027 is unknown" holds whatever the installed package learns later.
    return WorkCalendar.load(None, base={y: s for y, s in package_schedules().items() if y <= 2026})


@pytest.fixture(scope="module")
def without_2025_2026() -> WorkCalendar:
    return WorkCalendar.load(None, base={y: s for y, s in package_schedules().items() if y <= 2024})


def timeline(defn: Definition, trigger: datetime, calendar: WorkCalendar, **kw: Any) -> Timeline:
    period = kw.pop("period", None)
    return compute_timeline(
        defn,
        trigger,
        period=parse_period(period) if period else None,
        explicit_due=kw.pop("explicit_due", None),
        calendar=calendar,
        tz=TZ,
        reminder_time=time(9, 0),
        **kw,
    )


# --- the law's fixed holidays ----------------------------------------------------------


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_laws_days_are_the_notices_holidays_in_known_years(year: int) -> None:
    # Cross-check against the State Council's notices the package carries: every day the
    # rule computes is a holiday there, under the same holiday's name.
    for name, days in statutory_days(year).items():
        for day in days:
            on_holiday, label = chinese_calendar.get_holiday_detail(day)
            assert on_holiday, (name, day)
            if (year, name) != (2025, "national_day") or day.day <= 3:
                assert label == PACKAGE_NAMES[name], (name, day, label)
    assert len(statutory_rest_days(year)) == 13  # 1 + 4 + 1 + 2 + 1 + 1 + 3 days by law


@pytest.mark.parametrize("year", [2025, 2026])
def test_a_known_year_rebuilt_from_the_law_alone_keeps_every_fixed_holiday(
    year: int, without_2025_2026: WorkCalendar
) -> None:
    known = WorkCalendar.load(None)
    for day in sorted(statutory_rest_days(year)):
        assert not without_2025_2026.is_workday(day)
        assert not known.is_workday(day)
    # What the law cannot know: the notice's bridge days and make-up Saturdays.
    assert not known.is_workday(date(2026, 2, 23)) and without_2025_2026.is_workday(date(2026, 2, 23))
    assert known.is_workday(date(2026, 2, 14)) and not without_2025_2026.is_workday(date(2026, 2, 14))


def test_unknown_years_get_the_laws_holidays() -> None:
    assert statutory_days(2027) == {
        "new_year": (date(2027, 1, 1),),
        "spring_festival": (date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8)),
        "qingming": (date(2027, 4, 5),),
        "labour_day": (date(2027, 5, 1), date(2027, 5, 2)),
        "dragon_boat": (date(2027, 6, 9),),
        "mid_autumn": (date(2027, 9, 15),),
        "national_day": (date(2027, 10, 1), date(2027, 10, 2), date(2027, 10, 3)),
    }
    # 2028: 除夕 on the 25th (腊月 has 29 days that year), 中秋 on 3 October inside 国庆.
    days = statutory_days(2028)
    assert days["spring_festival"][0] == date(2028, 1, 25)
    assert days["qingming"] == (date(2028, 4, 4),)
    assert days["dragon_boat"] == (date(2028, 5, 28),)
    assert days["mid_autumn"] == (date(2028, 10, 3),)
    assert len(statutory_rest_days(2028)) == 12  # 中秋 and 国庆 share a day
    assert tuple(days) == HOLIDAY_NAMES


def test_a_weekday_holiday_of_an_unknown_year_is_a_rest_day(calendar: WorkCalendar) -> None:
    assert not calendar.is_known(2027)
    for day in (date(2027, 1, 1), date(2027, 2, 5), date(2027, 2, 8), date(2027, 4, 5), date(2027, 6, 9)):
        assert day.weekday() < 5 and not calendar.is_workday(day)
    assert calendar.is_workday(date(2027, 2, 9))  # 初四: no make-up or bridge day is guessed
    assert calendar.first_workday_on_or_after(date(2027, 10, 1)) == (date(2027, 10, 4), True)


def test_holiday_breaks(calendar: WorkCalendar) -> None:
    # Known: the notice's layout, weekends included (2026 春节 15–23 February).
    assert calendar.holiday_break("spring_festival", 2026) == (date(2026, 2, 15), date(2026, 2, 23), False)
    assert calendar.holiday_break("qingming", 2026) == (date(2026, 4, 4), date(2026, 4, 6), False)
    # Unknown: the law's days and the weekend around them (清明 Monday 5 April 2027).
    assert calendar.holiday_break("spring_festival", 2027) == (date(2027, 2, 5), date(2027, 2, 8), True)
    assert calendar.holiday_break("qingming", 2027) == (date(2027, 4, 3), date(2027, 4, 5), True)


def test_workdays_before(calendar: WorkCalendar) -> None:
    # Saturday 2/14 is a make-up working day in 2026.
    assert calendar.workdays_before(date(2026, 2, 15), 1) == (date(2026, 2, 14), False)
    assert calendar.workdays_before(date(2026, 2, 15), 5) == (date(2026, 2, 10), False)
    assert calendar.workdays_before(date(2026, 1, 5), 3) == (date(2025, 12, 30), False)
    assert calendar.workdays_before(date(2027, 2, 5), 5) == (date(2027, 1, 29), True)


# --- rest days: 民法典 第二百零三条 -----------------------------------------------------


def test_a_deadline_on_a_rest_day_moves_to_the_next_working_day(calendar: WorkCalendar) -> None:
    defn = make(due={"after": "P3M"}, reminders=["P7D"], escalation=[{"after": "P0D", "to": "parent"}])
    t = timeline(defn, at("2026-01-05 10:00"), calendar)
    # 2026-04-05 is in the 清明 break (4–6 April): the deadline is Tuesday 7 April.
    assert t.due_moved_from == date(2026, 4, 5)
    assert t.due_at == at("2026-04-07 23:59:59")
    assert t.overdue_at == at("2026-04-08 00:00")
    assert t.escalations[0].at == at("2026-04-08 00:00")
    assert [r.at for r in t.reminders] == [at("2026-03-31 09:00")]  # 7 days before the moved date
    assert t.to_json()["due_moved_from"] == "2026-04-05"
    assert not t.calendar_provisional


def test_on_rest_day_keep_opts_out(calendar: WorkCalendar) -> None:
    defn = make(due={"after": "P3M"}, on_rest_day="keep", escalation=[{"after": "P0D", "to": "parent"}])
    t = timeline(defn, at("2026-01-05 10:00"), calendar)
    assert t.due_at == at("2026-04-05 23:59:59")
    assert t.escalations[0].at == at("2026-04-06 00:00")
    assert t.due_moved_from is None


def test_a_date_given_at_assignment_is_kept(calendar: WorkCalendar) -> None:
    t = timeline(make(due={"after": "P3M"}), at("2026-01-05 10:00"), calendar, explicit_due=date(2026, 10, 1))
    assert t.due_at == at("2026-10-01 23:59:59")
    assert t.due_moved_from is None


def test_a_move_into_an_unknown_year_is_provisional_and_firm_once_known(
    calendar: WorkCalendar, tmp_path: Any
) -> None:
    defn = make(trigger={"every": "year"}, due={"on": "10-01"})
    guessed = timeline(defn, at("2027-01-01 00:00"), calendar, period="2027")
    assert guessed.due_at == at("2027-10-04 23:59:59")  # after the law's 10/1–10/3 and a Sunday
    assert guessed.calendar_provisional
    override = tmp_path / "calendar.yaml"
    days = ", ".join(f"2027-10-0{d}" for d in range(1, 8))
    override.write_text(f"years:\n  2027:\n    holidays: [{days}]\n    workdays: [2027-10-09]\n")
    known = WorkCalendar.load(override, base={y: s for y, s in package_schedules().items() if y <= 2026})
    firm = timeline(defn, at("2027-01-01 00:00"), known, period="2027")
    assert firm.due_at == at("2027-10-08 23:59:59")
    assert not firm.calendar_provisional


def test_an_exact_instant_never_moves(calendar: WorkCalendar) -> None:
    t = timeline(make(due={"after": "PT24H"}), at("2026-04-04 10:00"), calendar)
    assert t.due_at == at("2026-04-05 10:00")
    assert t.due_moved_from is None


# --- before_holiday ----------------------------------------------------------------------


def test_before_holiday_in_a_known_year(calendar: WorkCalendar) -> None:
    defn = make(trigger={"every": "year"}, due={"before_holiday": "spring_festival", "workdays": 5})
    t = timeline(defn, at("2026-01-01 00:00"), calendar, period="2026")
    assert t.due_at == at("2026-02-10 23:59:59")
    assert not t.calendar_provisional


def test_before_holiday_in_an_unknown_year_is_provisional(calendar: WorkCalendar) -> None:
    defn = make(trigger={"every": "year"}, due={"before_holiday": "spring_festival", "workdays": 5})
    t = timeline(defn, at("2027-01-01 00:00"), calendar, period="2027")
    assert t.due_at == at("2027-01-29 23:59:59")  # 5 working days before 除夕, Friday 5 February
    assert t.calendar_provisional
    assert t.to_json()["calendar_provisional"] is True


def test_before_new_year_means_the_new_year_that_closes_the_year(calendar: WorkCalendar) -> None:
    defn = make(trigger={"every": "year"}, due={"before_holiday": "new_year", "workdays": 3})
    t = timeline(defn, at("2026-01-01 00:00"), calendar, period="2026")
    # 1 January 2027 is a Friday (by law; 2027 is unknown): three working days before it.
    assert t.due_at == at("2026-12-29 23:59:59")
    assert t.late is None
    assert t.calendar_provisional


# --- window ---------------------------------------------------------------------------------


def test_a_window_gives_its_end_and_holds_back_early_reminders(calendar: WorkCalendar) -> None:
    defn = make(trigger={"every": "year"}, window="second_half", reminders=["P200D", "P30D"])
    t = timeline(defn, at("2026-03-12 10:00"), calendar, period="2026")
    assert t.due_at == at("2026-12-31 23:59:59")
    assert t.opens_at == at("2026-07-01 00:00")
    assert [r.step for r in t.reminders] == [2]  # P200D would be 14 June, before the window
    assert t.to_json()["window_opens_at"] == "2026-07-01T00:00:00+08:00"


def test_a_window_with_not_before_and_a_relative_due(calendar: WorkCalendar) -> None:
    defn = make(window={"not_before": "07-01"}, due={"after": "P30D"})
    t = timeline(defn, at("2026-03-12 10:00"), calendar)
    # Counted from the window's opening: 31 July is a Friday.
    assert t.due_at == at("2026-07-31 23:59:59")


def test_first_half_ends_on_30_june(calendar: WorkCalendar) -> None:
    t = timeline(make(window="first_half"), at("2026-03-12 10:00"), calendar)
    assert t.due_at == at("2026-06-30 23:59:59")
    assert t.late is None


# --- late assignment ------------------------------------------------------------------------


@pytest.mark.parametrize(("on", "missed"), [("03-08", date(2026, 3, 8)), ("02-28", date(2026, 2, 28))])
def test_a_passed_fixed_date_gets_thirty_days_by_default(
    calendar: WorkCalendar, on: str, missed: date
) -> None:
    # The college plan's own date, 12 March: items due 03-08 or 02-28 must not be born overdue.
    defn = make(trigger={"every": "year"}, due={"on": on})
    t = timeline(defn, at("2026-03-12 10:00"), calendar, period="2026")
    # The plan's date is what had passed (3/8/2026, a Sunday, would have moved to 3/9).
    assert t.late is not None and t.late.missed == missed
    # 30 days from 12 March is Saturday 11 April: the next working day.
    assert t.due_at == at("2026-04-13 23:59:59")
    assert t.overdue_at > at("2026-03-12 10:00")
    assert t.to_json()["late_assignment"] == {
        "rule": "grace",
        "grace": "P30D",
        "missed_due": missed.isoformat(),
    }


def test_a_definitions_own_grace_and_an_assignments_override(calendar: WorkCalendar) -> None:
    defn = make(trigger={"every": "year"}, due={"on": "03-08"}, late_assignment={"grace": "P10D"})
    t = timeline(defn, at("2026-03-12 10:00"), calendar, period="2026")
    assert t.due_at == at("2026-03-23 23:59:59")  # 3/22 is a Sunday
    overridden = timeline(
        defn, at("2026-03-12 10:00"), calendar, period="2026", late=LateAssignment(grace="P3D")
    )
    assert overridden.due_at == at("2026-03-16 23:59:59")


def test_skip_marks_a_recurring_period_and_moves_a_one_off_a_year(calendar: WorkCalendar) -> None:
    yearly = make(trigger={"every": "year"}, due={"on": "03-08"}, late_assignment="skip")
    t = timeline(yearly, at("2026-03-12 10:00"), calendar, period="2026")
    assert t.skips_period
    once = make(window="first_half", late_assignment="skip")
    moved = timeline(once, at("2026-08-01 10:00"), calendar)
    assert moved.due_at == at("2027-06-30 23:59:59")
    assert moved.opens_at == at("2027-01-01 00:00")
    assert moved.late is not None and moved.late.missed == date(2026, 6, 30)


def test_a_date_not_yet_passed_is_left_alone(calendar: WorkCalendar) -> None:
    defn = make(trigger={"every": "year"}, due={"on": "03-12"})
    t = timeline(defn, at("2026-03-12 10:00"), calendar, period="2026")
    assert t.late is None
    assert t.due_at == at("2026-03-12 23:59:59")


def test_set_at_assignment_needs_a_date(calendar: WorkCalendar) -> None:
    defn = make(due="set_at_assignment")
    with pytest.raises(InvalidInput) as refused:
        timeline(defn, at("2026-03-12 10:00"), calendar)
    assert "择期" in str(refused.value.problems[0].message)
    given = timeline(defn, at("2026-03-12 10:00"), calendar, explicit_due=date(2026, 5, 20))
    assert given.due_at == at("2026-05-20 23:59:59")
