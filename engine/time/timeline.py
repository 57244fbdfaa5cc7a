"""The timeline of one task: when it is due, when it is overdue, when to remind and when to escalate.

This is the product's deadline contract in one pure function, `compute_timeline`.
The fan-out stores what it returns, the sweep walks its actions, and `duban
preview` prints it. Time is always passed in; nothing here reads the clock.

Date-granular deadlines mean "by the end of that local day" and become overdue at
the next local midnight; durations with a time part are exact instants. Calendar
parts of a duration (years, months, days) move the local wall clock; time parts
are elapsed time, so they are the same span whatever the zone's offset does.

A computed deadline that falls on a rest day ends on the next working day (民法典
第二百零三条) unless the definition says `on_rest_day: keep`; a date the assigner
gives is kept as given. A fixed date of the year (`on`, `before_holiday`, a
window's end) that has already passed when the task starts follows the
late-assignment rule, so no task is born overdue by surprise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from duban.engine.errors import InvalidInput, Problem
from duban.engine.language.durations import Duration, parse_duration
from duban.engine.language.model import (
    Definition,
    DueAfter,
    DueBeforeHoliday,
    DueEndOfPeriod,
    DueOn,
    DueSetAtAssignment,
    DueWorkdays,
    LateAssignment,
    OnRestDay,
)
from duban.engine.time.calendar import WorkCalendar
from duban.engine.time.periods import Period, period_of


def last_day(due_at: datetime) -> date:
    """The day a deadline ends, in the zone `due_at` is given in.

    A date-granular deadline is stored as the next local midnight ("by the end of 30 June" is
    overdue at 1 July 00:00), so a deadline at midnight ends the day before.
    """
    return (due_at - timedelta(seconds=1)).date() if due_at.time() == time(0) else due_at.date()


END_OF_DAY = time(23, 59, 59)

ActionKind = Literal["reminder", "escalation"]

# Reminders sort before escalations at the same instant: warn, then raise.
_KIND_ORDER: dict[str, int] = {"reminder": 0, "escalation": 1}


@dataclass(frozen=True)
class Reminder:
    """A reminder before the due time; `step` is its 1-based place in the definition's list."""

    step: int
    at: datetime


@dataclass(frozen=True)
class Escalation:
    """An escalation after the due time; `step` is its 1-based place, which is also the level it raises to."""

    step: int
    at: datetime
    to: str

    @property
    def level(self) -> int:
        """The escalation level this step raises the task to."""
        return self.step


@dataclass(frozen=True)
class Action:
    """One thing the sweep does for a task: a reminder or an escalation."""

    kind: ActionKind
    step: int
    at: datetime
    to: str | None = None


@dataclass(frozen=True)
class Late:
    """The late-assignment rule a timeline applied: its fixed date had passed when the task started."""

    rule: LateAssignment
    missed: date  # the fixed due day that had already passed

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": "skip" if self.rule.skip else "grace",
            "grace": self.rule.grace,
            "missed_due": self.missed.isoformat(),
        }


@dataclass(frozen=True)
class Timeline:
    """Every instant of one task, in the deployment's time zone."""

    trigger_at: datetime
    due_at: datetime
    overdue_at: datetime
    calendar_provisional: bool
    reminders: list[Reminder]
    escalations: list[Escalation]
    # The rest day the deadline moved off (on_rest_day: next_working_day), if it did.
    due_moved_from: date | None = None
    # The start of the definition's window: nothing is reminded before it.
    opens_at: datetime | None = None
    late: Late | None = None

    @property
    def skips_period(self) -> bool:
        """A recurring task whose date had passed under `late_assignment: skip`: the next period opens instead."""
        return self.late is not None and self.late.rule.skip

    def actions(self) -> list[Action]:
        """Reminders and escalations as one list, in the order the sweep fires them."""
        found = [Action("reminder", r.step, r.at) for r in self.reminders]
        found += [Action("escalation", e.step, e.at, e.to) for e in self.escalations]
        found.sort(key=lambda a: (_utc(a.at), _KIND_ORDER[a.kind], a.step))
        return found

    def next_action(self, after: datetime) -> Action | None:
        """The first action strictly after `after`, or None when nothing is left."""
        for action in self.actions():
            if _utc(action.at) > _utc(after):
                return action
        return None

    def to_json(self) -> dict[str, Any]:
        """The `preview` JSON: ISO-8601 instants with the deployment zone's offset."""
        return {
            "trigger_at": self.trigger_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "overdue_at": self.overdue_at.isoformat(),
            "calendar_provisional": self.calendar_provisional,
            "reminders": [r.at.isoformat() for r in self.reminders],
            "escalations": [{"at": e.at.isoformat(), "to": e.to, "level": e.level} for e in self.escalations],
            "due_moved_from": self.due_moved_from.isoformat() if self.due_moved_from else None,
            "window_opens_at": self.opens_at.isoformat() if self.opens_at else None,
            "late_assignment": self.late.to_json() if self.late else None,
        }


@dataclass(frozen=True)
class _Due:
    at: datetime
    day: date | None  # the local due day when date-granular; None for an exact instant
    provisional: bool
    moved_from: date | None = None


def _utc(instant: datetime) -> datetime:
    # Python compares two datetimes of the same tzinfo by wall clock, which is wrong
    # in a zone's repeated autumn hour; UTC compares instants.
    return instant.astimezone(UTC)


def _aware(instant: datetime, name: str) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, not {instant!r}")


def _end_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, END_OF_DAY, tzinfo=tz)


def _shift(instant: datetime, span: Duration, sign: int, tz: ZoneInfo) -> datetime:
    """`instant` moved by `span` forwards (sign 1) or backwards (-1), calendar part on the local clock."""
    local = instant.astimezone(tz)
    calendar_part = Duration(span.text, span.years, span.months, span.days, timedelta(0))
    moved = calendar_part.add_to(local) if sign > 0 else calendar_part.subtract_from(local)
    if span.exact:
        moved = moved.astimezone(UTC) + sign * span.exact
    return moved.astimezone(tz)


def _no_due(defn: Definition) -> InvalidInput:
    if isinstance(defn.due, DueSetAtAssignment):
        message = "the definition's date is set at assignment (择期), so the assignment must give a due date"
    else:
        message = "the definition has no due, so the assignment must give a due date"
    return InvalidInput([Problem(where=f"definition {defn.id}", field="due", message=message)])


def _day(day: date, provisional: bool, tz: ZoneInfo) -> _Due:
    return _Due(_end_of_day(day, tz), day, provisional)


def _rule_due(
    defn: Definition,
    start: datetime,
    period: Period | None,
    year: int,
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> _Due:
    """The deadline the definition's rule gives, before any rest-day move; `start` is when counting begins."""
    rule = defn.due
    if rule is None and defn.window is not None:
        return _day(date(year, *defn.window.end), False, tz)
    if rule is None or isinstance(rule, DueSetAtAssignment):
        raise _no_due(defn)
    if isinstance(rule, DueAfter):
        span = parse_duration(rule.after)
        if span.date_granular:
            return _day(span.add_to_date(start.date()), False, tz)
        return _Due(_shift(start, span, 1, tz), None, False)
    if isinstance(rule, DueWorkdays):
        day, provisional = calendar.add_workdays(start.date(), rule.workdays)
        return _day(day, provisional, tz)
    if isinstance(rule, DueBeforeHoliday):
        # The New Year's Day inside a year is its first day, so any deadline before it
        # lies in the year before: the one meant is the New Year that closes the year.
        holiday_year = year + 1 if rule.before_holiday == "new_year" else year
        first, _, break_provisional = calendar.holiday_break(rule.before_holiday, holiday_year)
        day, provisional = calendar.workdays_before(first, rule.workdays)
        return _day(day, provisional or break_provisional, tz)
    if isinstance(rule, DueOn):
        if period is not None and period.kind != "year":
            raise ValueError(
                f"definition {defn.id}: due on {rule.on} needs a yearly period, not {period.label}"
            )
        month, day_of_month = (int(part) for part in rule.on.split("-"))
        return _day(date(year, month, day_of_month), False, tz)
    if isinstance(rule, DueEndOfPeriod):
        if period is None:
            raise ValueError(f"definition {defn.id}: a due date tied to a period needs the task's period")
        return _day(period.end, False, tz)
    raise TypeError(f"unknown due rule {rule!r}")


def _off_rest_day(defn: Definition, due: _Due, calendar: WorkCalendar, tz: ZoneInfo) -> _Due:
    """The deadline moved to the next working day when it falls on a rest day (unless the definition keeps it)."""
    if due.day is None or defn.on_rest_day == OnRestDay.keep:
        return due
    day, provisional = calendar.first_workday_on_or_after(due.day)
    moved_from = due.day if day != due.day else None
    return _Due(_end_of_day(day, tz), day, due.provisional or provisional, moved_from)


def _opens(defn: Definition, year: int, tz: ZoneInfo) -> datetime | None:
    if defn.window is None:
        return None
    return datetime.combine(date(year, *defn.window.start), time(0), tzinfo=tz)


def compute_timeline(
    defn: Definition,
    trigger_at: datetime,
    *,
    period: Period | None,
    explicit_due: date | None,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    reminder_time: time = time(9, 0),
    late: LateAssignment | None = None,
) -> Timeline:
    """The due, overdue, reminder and escalation instants of one task of `defn` triggered at `trigger_at`.

    `late` overrides the definition's late-assignment rule (an assignment's choice).
    """
    _aware(trigger_at, "trigger_at")
    trigger = trigger_at.astimezone(tz)
    if period is None and defn.recurring:
        # A recurring task without a stated period belongs to the one its trigger falls in.
        period = period_of(defn.trigger.every, trigger.date())  # type: ignore[union-attr]

    # The year a date of the year (on, before_holiday, a window) belongs to.
    year = period.start.year if period is not None else trigger.date().year
    opens_at = _opens(defn, year, tz)
    missed: Late | None = None
    if explicit_due is not None:
        due = _day(explicit_due, False, tz)
    else:
        # Relative deadlines count from the window's opening when the task starts before it.
        start = opens_at if opens_at is not None and _utc(opens_at) > _utc(trigger) else trigger
        due = _off_rest_day(defn, _rule_due(defn, start, period, year, calendar, tz), calendar, tz)
        if defn.fixed_due and due.day is not None and due.day < trigger.date():
            rule = late or defn.late_rule
            missed = Late(rule, due.moved_from or due.day)
            if rule.skip and period is None:
                # A one-off item takes the next year's date, window and all.
                year += 1
                opens_at = _opens(defn, year, tz)
                start = opens_at if opens_at is not None and _utc(opens_at) > _utc(trigger) else trigger
                due = _off_rest_day(defn, _rule_due(defn, start, period, year, calendar, tz), calendar, tz)
            elif not rule.skip:
                grace = parse_duration(rule.grace or "")
                due = _off_rest_day(defn, _day(grace.add_to_date(trigger.date()), False, tz), calendar, tz)
    if due.day is not None:
        overdue_at = datetime.combine(due.day + timedelta(days=1), time(0), tzinfo=tz)
        due_day = due.day
    else:
        overdue_at = due.at
        due_day = due.at.date()
    provisional = due.provisional

    reminder_offsets, escalation_offsets = defn.durations()
    reminders: list[Reminder] = []
    taken: set[datetime] = set()
    for step, offset in enumerate(reminder_offsets, start=1):
        if offset.date_granular:
            wanted = offset.subtract_from_date(due_day)
            # A reminder on a rest day goes out on the last working day before it.
            day, moved_provisional = calendar.last_workday_on_or_before(wanted)
            at = datetime.combine(day, reminder_time.replace(tzinfo=None), tzinfo=tz)
        else:
            at = _shift(due.at, offset, -1, tz)
            moved_provisional = False
        # A reminder at or before the trigger never applied; one at or after the
        # overdue instant would remind of a deadline already missed; one before the
        # window opens would ask for work that does not belong there yet.
        key = _utc(at)
        if key <= _utc(trigger) or key >= _utc(overdue_at) or key in taken:
            continue
        if opens_at is not None and key < _utc(opens_at):
            continue
        taken.add(key)
        provisional = provisional or moved_provisional
        reminders.append(Reminder(step, at))
    reminders.sort(key=lambda r: (_utc(r.at), r.step))

    escalations = [
        Escalation(level, _shift(overdue_at, offset, 1, tz), step.to)
        for level, (offset, step) in enumerate(zip(escalation_offsets, defn.escalation, strict=True), start=1)
    ]

    return Timeline(
        trigger_at=trigger,
        due_at=due.at,
        overdue_at=overdue_at,
        calendar_provisional=provisional,
        reminders=reminders,
        escalations=escalations,
        due_moved_from=due.moved_from,
        opens_at=opens_at,
        late=missed,
    )


def recurring_trigger_at(period: Period, assigned_at: datetime, tz: ZoneInfo) -> datetime:
    """When a recurring task of `period` starts: the period's local start, or the assignment if later."""
    _aware(assigned_at, "assigned_at")
    start = datetime.combine(period.start, time(0), tzinfo=tz)
    assigned = assigned_at.astimezone(tz)
    return assigned if _utc(assigned) > _utc(start) else start
