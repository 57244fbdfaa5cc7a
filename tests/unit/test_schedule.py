"""The timeline of one task, rule by rule, with the dates a union officer would work out from the notices."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from duban.engine.errors import InvalidInput
from duban.engine.language.model import Definition
from duban.engine.time.calendar import WorkCalendar, package_schedules
from duban.engine.time.periods import parse_period
from duban.engine.time.timeline import (
    Action,
    Escalation,
    Reminder,
    Timeline,
    compute_timeline,
    recurring_trigger_at,
)

SH = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    """A local Shanghai instant from 'YYYY-MM-DD HH:MM[:SS]'."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def make(**fields: Any) -> Definition:
    base: dict[str, Any] = {
        "id": "test-item",
        "title": "测试事项",
        "title_en": "Test item",
        "source": "test",
        "trigger": "assigned",
    }
    base.update(fields)
    return Definition.model_validate(base)


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    # Cut at 2026 so "2027 is unknown" holds whatever the installed package learns later.
    return WorkCalendar.load(None, base={y: s for y, s in package_schedules().items() if y <= 2026})


def timeline(
    defn: Definition,
    trigger_at: datetime,
    calendar: WorkCalendar,
    *,
    period: str | None = None,
    explicit_due: date | None = None,
    tz: ZoneInfo = SH,
    reminder_time: time = time(9, 0),
) -> Timeline:
    return compute_timeline(
        defn,
        trigger_at,
        period=parse_period(period) if period else None,
        explicit_due=explicit_due,
        calendar=calendar,
        tz=tz,
        reminder_time=reminder_time,
    )


# --- due ------------------------------------------------------------------------------


def test_after_date_granular_is_the_end_of_the_local_day(calendar: WorkCalendar) -> None:
    t = timeline(make(due={"after": "P1Y"}), at("2025-03-11 10:00"), calendar)
    assert t.due_at == at("2026-03-11 23:59:59")  # a Wednesday: nothing moves
    assert t.overdue_at == at("2026-03-12 00:00")
    assert not t.calendar_provisional
    assert t.due_moved_from is None


def test_after_counts_from_the_local_date_of_the_trigger(calendar: WorkCalendar) -> None:
    # 17:00 UTC on 3/10 is already 01:00 on 3/11 in Shanghai.
    defn = make(due={"after": "P10D"}, on_rest_day="keep")
    t = timeline(defn, datetime(2026, 3, 10, 17, 0, tzinfo=UTC), calendar)
    assert t.trigger_at == at("2026-03-11 01:00")
    assert t.due_at == at("2026-03-21 23:59:59")


@pytest.mark.parametrize(
    ("trigger", "due"),
    [
        ("2026-01-31 08:00", "2026-02-28"),  # P1M clamps to the end of February
        ("2028-01-31 08:00", "2028-02-29"),  # a leap year
        ("2026-03-31 08:00", "2026-04-30"),
        ("2026-02-28 08:00", "2026-03-28"),
    ],
)
def test_after_one_month_clamps(calendar: WorkCalendar, trigger: str, due: str) -> None:
    t = timeline(make(due={"after": "P1M"}, on_rest_day="keep"), at(trigger), calendar)
    assert t.due_at == at(f"{due} 23:59:59")


def test_after_with_hours_is_an_exact_instant(calendar: WorkCalendar) -> None:
    t = timeline(make(due={"after": "PT24H"}, reminders=["PT2H"]), at("2026-03-11 10:30"), calendar)
    assert t.due_at == at("2026-03-12 10:30")
    assert t.overdue_at == t.due_at
    assert t.reminders == [Reminder(1, at("2026-03-12 08:30"))]


def test_exact_span_is_elapsed_time_across_a_clock_change(calendar: WorkCalendar) -> None:
    # Shanghai keeps one offset; a deployment zone with summer time must still give 24 real hours.
    ny = ZoneInfo("America/New_York")
    trigger = datetime(2026, 3, 7, 12, 0, tzinfo=ny)  # the clocks go forward on 3/8
    t = timeline(make(due={"after": "PT24H"}), trigger, calendar, tz=ny)
    # Same-zone subtraction in Python is wall-clock arithmetic, so measure in UTC.
    assert t.due_at.astimezone(UTC) - trigger.astimezone(UTC) == timedelta(hours=24)
    assert t.due_at.isoformat() == "2026-03-08T13:00:00-04:00"
    dated_defn = make(due={"after": "P1D"}, escalation=[{"after": "P1D", "to": "parent"}], on_rest_day="keep")
    dated = timeline(dated_defn, trigger, calendar, tz=ny)
    assert dated.overdue_at.isoformat() == "2026-03-09T00:00:00-04:00"
    assert dated.escalations[0].at.isoformat() == "2026-03-10T00:00:00-04:00"


@pytest.mark.parametrize(
    ("trigger", "n", "due"),
    [
        # Thu 2/12: Fri 2/13, Sat 2/14 (works), then the break 2/15-2/23, then 2/24 ... with Sat 2/28 working.
        ("2026-02-12 15:00", 10, "2026-03-04"),
        ("2026-02-12 15:00", 3, "2026-02-24"),
        ("2026-09-30 10:00", 1, "2026-10-08"),  # National Day 10/1-10/7
        ("2026-09-18 10:00", 1, "2026-09-20"),  # Fri -> Sun 9/20, an adjusted working day
        ("2026-09-18 10:00", 2, "2026-09-21"),
        ("2025-12-31 10:00", 1, "2026-01-04"),  # New Year 1/1-1/3, Sun 1/4 works
    ],
)
def test_workdays(calendar: WorkCalendar, trigger: str, n: int, due: str) -> None:
    t = timeline(make(due={"workdays": n}), at(trigger), calendar)
    assert t.due_at == at(f"{due} 23:59:59")
    assert t.overdue_at == at(f"{due} 00:00") + timedelta(days=1)
    assert not t.calendar_provisional


def test_on_month_day_in_the_yearly_period(calendar: WorkCalendar) -> None:
    defn = make(trigger={"every": "year"}, due={"on": "06-30"})
    t = timeline(defn, at("2026-01-01 00:00"), calendar, period="2026")
    assert t.due_at == at("2026-06-30 23:59:59")
    assert t.to_json()["due_at"] == "2026-06-30T23:59:59+08:00"


def test_recurring_without_a_period_uses_the_triggers(calendar: WorkCalendar) -> None:
    defn = make(trigger={"every": "year"}, due={"on": "06-30"})
    assert timeline(defn, at("2027-02-01 00:00"), calendar).due_at == at("2027-06-30 23:59:59")
    quarterly = make(trigger={"every": "quarter"}, due="end_of_period")
    assert timeline(quarterly, at("2026-05-10 09:00"), calendar).due_at == at("2026-06-30 23:59:59")


@pytest.mark.parametrize(
    ("every", "period", "trigger", "end"),
    [
        ("year", "2026", "2026-01-01 00:00", "2026-12-31"),
        ("half_year", "2026-H1", "2026-01-01 00:00", "2026-06-30"),
        ("half_year", "2026-H2", "2026-07-01 00:00", "2026-12-31"),
        ("quarter", "2026-Q1", "2026-02-10 14:00", "2026-03-31"),
        ("month", "2026-02", "2026-02-01 00:00", "2026-02-28"),
        ("week", "2026-W10", "2026-03-02 00:00", "2026-03-08"),
        ("week", "2026-W01", "2025-12-29 00:00", "2026-01-04"),
    ],
)
def test_end_of_period(calendar: WorkCalendar, every: str, period: str, trigger: str, end: str) -> None:
    defn = make(trigger={"every": every}, due="end_of_period", on_rest_day="keep")
    t = timeline(defn, at(trigger), calendar, period=period)
    assert t.due_at == at(f"{end} 23:59:59")
    assert t.overdue_at == at(f"{end} 00:00") + timedelta(days=1)


def test_explicit_due_overrides_the_definition(calendar: WorkCalendar) -> None:
    t = timeline(make(due={"workdays": 10}), at("2026-02-12 15:00"), calendar, explicit_due=date(2026, 6, 30))
    assert t.due_at == at("2026-06-30 23:59:59")
    assert t.overdue_at == at("2026-07-01 00:00")


def test_explicit_due_when_the_definition_has_none(calendar: WorkCalendar) -> None:
    t = timeline(make(), at("2026-03-11 10:00"), calendar, explicit_due=date(2026, 4, 30))
    assert t.due_at == at("2026-04-30 23:59:59")


def test_no_due_anywhere_is_refused(calendar: WorkCalendar) -> None:
    with pytest.raises(InvalidInput) as caught:
        timeline(make(), at("2026-03-11 10:00"), calendar)
    (problem,) = caught.value.problems
    assert problem.field == "due"
    assert "assignment must give a due date" in problem.message
    assert "test-item" in problem.where


def test_naive_trigger_is_refused(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        timeline(make(due={"after": "P1D"}), datetime(2026, 3, 11, 10, 0), calendar)


# --- reminders ------------------------------------------------------------------------


def test_reminder_before_a_monday_goes_to_friday(calendar: WorkCalendar) -> None:
    defn = make(reminders=["P1D"])
    t = timeline(defn, at("2026-03-02 10:00"), calendar, explicit_due=date(2026, 3, 9))
    assert t.reminders == [Reminder(1, at("2026-03-06 09:00"))]


def test_reminder_inside_national_day_goes_to_the_last_working_day_before(calendar: WorkCalendar) -> None:
    # Due Thu 10/8: the day before is inside the 10/1-10/7 break, so the reminder goes out on Wed 9/30.
    defn = make(reminders=["P3D", "P1D"])
    t = timeline(defn, at("2026-09-01 10:00"), calendar, explicit_due=date(2026, 10, 8))
    assert [r.step for r in t.reminders] == [1]
    assert t.reminders == [Reminder(1, at("2026-09-30 09:00"))]


def test_reminder_on_an_adjusted_working_day_stays(calendar: WorkCalendar) -> None:
    # Due Mon 10/12: the Saturday before (10/10) is a working day.
    t = timeline(make(reminders=["P2D"]), at("2026-09-01 10:00"), calendar, explicit_due=date(2026, 10, 12))
    assert t.reminders == [Reminder(1, at("2026-10-10 09:00"))]


def test_reminders_on_one_instant_keep_the_first_step(calendar: WorkCalendar) -> None:
    # P1D -> 10/7 -> 9/30 and P7D -> 10/1 -> 9/30: one reminder, the first listed.
    defn = make(reminders=["P30D", "P7D", "P1D"])
    t = timeline(defn, at("2026-08-01 10:00"), calendar, explicit_due=date(2026, 10, 8))
    assert t.reminders == [Reminder(1, at("2026-09-08 09:00")), Reminder(2, at("2026-09-30 09:00"))]


def test_reminders_before_the_trigger_are_dropped(calendar: WorkCalendar) -> None:
    defn = make(reminders=["P7D", "P3D", "P1D"])
    # Due Mon 3/9; P7D would be Mon 3/2, before the trigger; P3D is Fri 3/6 09:00, exactly the trigger.
    t = timeline(defn, at("2026-03-06 09:00"), calendar, explicit_due=date(2026, 3, 9))
    assert t.reminders == []
    t = timeline(defn, at("2026-03-04 09:00"), calendar, explicit_due=date(2026, 3, 9))
    assert t.reminders == [Reminder(2, at("2026-03-06 09:00"))]


def test_reminder_time_is_a_setting(calendar: WorkCalendar) -> None:
    t = timeline(
        make(reminders=["P1D"]),
        at("2026-03-02 10:00"),
        calendar,
        explicit_due=date(2026, 3, 10),
        reminder_time=time(8, 30),
    )
    assert t.reminders == [Reminder(1, at("2026-03-09 08:30"))]


def test_day_reminder_on_an_exact_due_never_comes_after_it(calendar: WorkCalendar) -> None:
    # Due at 07:00 on 3/12: a P0D reminder at 09:00 that day would remind of a missed deadline.
    defn = make(due={"after": "PT24H"}, reminders=["P1D", "P0D"])
    t = timeline(defn, at("2026-03-11 07:00"), calendar)
    assert t.due_at == at("2026-03-12 07:00")
    assert t.reminders == [Reminder(1, at("2026-03-11 09:00"))]


def test_reminders_are_in_time_order(calendar: WorkCalendar) -> None:
    t = timeline(
        make(reminders=["P1D", "P7D"]), at("2026-03-02 10:00"), calendar, explicit_due=date(2026, 3, 20)
    )
    assert t.reminders == [Reminder(2, at("2026-03-13 09:00")), Reminder(1, at("2026-03-19 09:00"))]


# --- escalations ----------------------------------------------------------------------


def test_escalations_follow_the_overdue_instant(calendar: WorkCalendar) -> None:
    defn = make(
        due={"after": "P10D"},
        escalation=[
            {"after": "P0D", "to": "parent"},
            {"after": "P30D", "to": "grandparent"},
            {"after": "PT12H", "to": "municipal"},
        ],
    )
    t = timeline(defn, at("2026-03-01 10:00"), calendar)
    assert t.overdue_at == at("2026-03-12 00:00")
    assert t.escalations == [
        Escalation(1, at("2026-03-12 00:00"), "parent"),
        Escalation(2, at("2026-04-11 00:00"), "grandparent"),
        Escalation(3, at("2026-03-12 12:00"), "municipal"),
    ]
    assert [e.level for e in t.escalations] == [1, 2, 3]


def test_escalation_after_an_exact_due(calendar: WorkCalendar) -> None:
    defn = make(due={"after": "PT24H"}, escalation=[{"after": "P1D", "to": "parent"}])
    t = timeline(defn, at("2026-03-11 10:30"), calendar)
    assert t.escalations == [Escalation(1, at("2026-03-13 10:30"), "parent")]


# --- the calendar's years -------------------------------------------------------------


def test_provisional_in_an_unknown_year_then_firm_once_loaded(calendar: WorkCalendar, tmp_path: Path) -> None:
    defn = make(due={"workdays": 5})
    trigger = at("2026-12-28 10:00")  # a Monday
    guessed = timeline(defn, trigger, calendar)
    # 12/29, 12/30, 12/31, then 2027 on weekends and the law's holidays (1/1): Mon 1/4, Tue 1/5.
    assert guessed.due_at == at("2027-01-05 23:59:59")
    assert guessed.calendar_provisional
    assert guessed.to_json()["calendar_provisional"] is True

    # The notice makes Saturday 1/2 a working day, which no rule could have guessed.
    override = tmp_path / "calendar.yaml"
    override.write_text(
        "years:\n  2027:\n    holidays: [2027-01-01]\n    workdays: [2027-01-02]\n", encoding="utf-8"
    )
    loaded = WorkCalendar.load(override, base={y: s for y, s in package_schedules().items() if y <= 2026})
    firm = timeline(defn, trigger, loaded)
    assert firm.due_at == at("2027-01-04 23:59:59")
    assert not firm.calendar_provisional


def test_within_known_years_nothing_is_provisional(calendar: WorkCalendar) -> None:
    t = timeline(make(due={"workdays": 2}), at("2026-12-28 10:00"), calendar)
    assert t.due_at == at("2026-12-30 23:59:59")
    assert not t.calendar_provisional


def test_a_reminder_in_an_unknown_year_is_provisional(calendar: WorkCalendar) -> None:
    # A kept due date does not depend on the calendar, but where its reminder lands does.
    defn = make(due={"after": "P1Y"}, reminders=["P1D"], on_rest_day="keep")
    t = timeline(defn, at("2026-03-11 10:00"), calendar)
    assert t.due_at == at("2027-03-11 23:59:59")
    assert t.calendar_provisional
    kept = make(due={"after": "P1Y"}, on_rest_day="keep")
    assert not timeline(kept, at("2026-03-11 10:00"), calendar).calendar_provisional
    # Moved off rest days, the due date itself depends on 2027's notice.
    assert timeline(make(due={"after": "P1Y"}), at("2026-03-11 10:00"), calendar).calendar_provisional


# --- the whole timeline ----------------------------------------------------------------


def test_to_json_is_the_preview_contract(calendar: WorkCalendar) -> None:
    defn = make(
        trigger={"every": "half_year"},
        due="end_of_period",
        reminders=["P7D", "P1D"],
        escalation=[{"after": "P0D", "to": "parent"}, {"after": "P30D", "to": "grandparent"}],
    )
    t = timeline(defn, datetime(2026, 5, 31, 16, 0, tzinfo=UTC), calendar, period="2026-H1")
    assert t.to_json() == {
        "trigger_at": "2026-06-01T00:00:00+08:00",
        "due_at": "2026-06-30T23:59:59+08:00",
        "overdue_at": "2026-07-01T00:00:00+08:00",
        "calendar_provisional": False,
        "reminders": ["2026-06-23T09:00:00+08:00", "2026-06-29T09:00:00+08:00"],
        "escalations": [
            {"at": "2026-07-01T00:00:00+08:00", "to": "parent", "level": 1},
            {"at": "2026-07-31T00:00:00+08:00", "to": "grandparent", "level": 2},
        ],
        "due_moved_from": None,
        "window_opens_at": None,
        "late_assignment": None,
    }
    assert t.actions() == [
        Action("reminder", 1, at("2026-06-23 09:00")),
        Action("reminder", 2, at("2026-06-29 09:00")),
        Action("escalation", 1, at("2026-07-01 00:00"), "parent"),
        Action("escalation", 2, at("2026-07-31 00:00"), "grandparent"),
    ]
    assert t.next_action(at("2026-06-23 09:00")) == Action("reminder", 2, at("2026-06-29 09:00"))
    assert t.next_action(at("2026-08-01 00:00")) is None


def test_actions_order_on_equal_instants() -> None:
    moment = at("2026-07-01 00:00")
    t = Timeline(
        trigger_at=at("2026-06-01 00:00"),
        due_at=at("2026-06-30 23:59:59"),
        overdue_at=moment,
        calendar_provisional=False,
        reminders=[Reminder(2, moment), Reminder(1, moment)],
        escalations=[Escalation(2, moment, "grandparent"), Escalation(1, moment, "parent")],
    )
    assert [(a.kind, a.step) for a in t.actions()] == [
        ("reminder", 1),
        ("reminder", 2),
        ("escalation", 1),
        ("escalation", 2),
    ]


# --- recurring triggers ---------------------------------------------------------------


def test_recurring_trigger_is_the_period_start_or_the_assignment() -> None:
    quarter = parse_period("2026-Q2")
    assert recurring_trigger_at(quarter, at("2026-03-20 15:00"), SH) == at("2026-04-01 00:00")
    assert recurring_trigger_at(quarter, at("2026-05-10 15:00"), SH) == at("2026-05-10 15:00")
    # 3/31 16:30 UTC is already 4/1 00:30 in Shanghai.
    later = recurring_trigger_at(quarter, datetime(2026, 3, 31, 16, 30, tzinfo=UTC), SH)
    assert later.isoformat() == "2026-04-01T00:30:00+08:00"
    with pytest.raises(ValueError):
        recurring_trigger_at(quarter, datetime(2026, 5, 10, 15, 0), SH)  # naive on purpose


def test_a_deadline_at_midnight_ends_the_day_before_everywhere_it_is_shown() -> None:
    """The one rule for a deadline's day: the pages, the notices, the task list export and the ledger share it."""
    from io import BytesIO

    from openpyxl import load_workbook

    from duban.engine.channels.render import format_due
    from duban.engine.overview.workbook import tasks_workbook
    from duban.engine.time.timeline import last_day

    tz = ZoneInfo("Asia/Shanghai")
    midnight = datetime(2026, 7, 1, 0, 0, tzinfo=tz)
    assert last_day(midnight) == date(2026, 6, 30)
    assert last_day(datetime(2026, 6, 30, 23, 59, 59, tzinfo=tz)) == date(2026, 6, 30)
    assert last_day(datetime(2026, 6, 30, 17, 30, tzinfo=tz)) == date(2026, 6, 30)
    assert format_due(midnight.astimezone(ZoneInfo("UTC")), tz) == "2026-06-30"
    task = {
        "unit_code": "G01",
        "unit_name": "某工会",
        "title": "会员代表大会",
        "definition_id": "x",
        "period": "",
        "state": "open",
        "due_at": midnight.isoformat(),
        "overdue_at": midnight.isoformat(),
        "escalation_level": 0,
        "progress": 0,
        "target": None,
    }
    book = load_workbook(
        BytesIO(tasks_workbook([task], unit_name="某工会", filters=[], total=1, now=midnight))
    )
    cells = [c.value for row in book.active.iter_rows() for c in row]
    assert "2026-06-30" in cells and "2026-07-01" not in cells
