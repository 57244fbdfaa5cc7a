"""Local calendar periods: the year, half-year, quarter, month or ISO week a recurring task belongs to.

A period is a run of local dates with a stable label (`2026`, `2026-H1`, `2026-Q1`,
`2026-03`, `2026-W10`). Labels are what tasks store and what users type, so
`parse_period(p.label) == p` always holds. Weeks are ISO weeks: they start on
Monday and belong to their ISO year, so `2026-W01` starts on 2025-12-29.
"""

from __future__ import annotations

import calendar as _gregorian
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

PeriodKind = Literal["year", "half_year", "quarter", "month", "week"]

PERIOD_KINDS: tuple[PeriodKind, ...] = ("year", "half_year", "quarter", "month", "week")

_LABEL_FORMS = "YYYY, YYYY-H1, YYYY-Q1, YYYY-MM or YYYY-Www (e.g. 2026, 2026-H2, 2026-Q3, 2026-03, 2026-W10)"

_LABEL = re.compile(
    r"(?P<year>\d{4})"
    r"(?:-H(?P<half>\d+)|-Q(?P<quarter>\d+)|-W(?P<week>\d+)|-(?P<month>\d+))?"
)


@dataclass(frozen=True)
class Period:
    """One local calendar period; `end` is the last day inside it (inclusive)."""

    kind: PeriodKind
    label: str
    start: date
    end: date

    def __str__(self) -> str:
        return self.label

    def contains(self, day: date) -> bool:
        """Whether the local date `day` lies inside this period."""
        return self.start <= day <= self.end

    def next(self) -> Period:
        """The period of the same kind that follows this one."""
        return period_of(self.kind, self.end + timedelta(days=1))

    def previous(self) -> Period:
        """The period of the same kind that comes before this one."""
        return period_of(self.kind, self.start - timedelta(days=1))

    @property
    def days(self) -> int:
        """How many days the period has."""
        return (self.end - self.start).days + 1


def _month_end(year: int, month: int) -> date:
    return date(year, month, _gregorian.monthrange(year, month)[1])


def _check_kind(kind: str) -> PeriodKind:
    # Every (a StrEnum) compares equal to its value, so both spellings are accepted.
    value = str(kind)
    if value not in PERIOD_KINDS:
        raise ValueError(f"{kind!r} is not a period kind ({', '.join(PERIOD_KINDS)})")
    return value


def _year(year: int) -> Period:
    return Period("year", f"{year:04d}", date(year, 1, 1), date(year, 12, 31))


def _half(year: int, half: int) -> Period:
    first = 1 if half == 1 else 7
    return Period("half_year", f"{year:04d}-H{half}", date(year, first, 1), _month_end(year, first + 5))


def _quarter(year: int, quarter: int) -> Period:
    first = 3 * (quarter - 1) + 1
    return Period("quarter", f"{year:04d}-Q{quarter}", date(year, first, 1), _month_end(year, first + 2))


def _month(year: int, month: int) -> Period:
    return Period("month", f"{year:04d}-{month:02d}", date(year, month, 1), _month_end(year, month))


def _week(iso_year: int, week: int) -> Period:
    monday = date.fromisocalendar(iso_year, week, 1)
    return Period("week", f"{iso_year:04d}-W{week:02d}", monday, monday + timedelta(days=6))


def period_of(kind: str, day: date) -> Period:
    """The period of `kind` (year, half_year, quarter, month, week) that contains the local date `day`."""
    checked = _check_kind(kind)
    if checked == "year":
        return _year(day.year)
    if checked == "half_year":
        return _half(day.year, 1 if day.month <= 6 else 2)
    if checked == "quarter":
        return _quarter(day.year, (day.month - 1) // 3 + 1)
    if checked == "month":
        return _month(day.year, day.month)
    iso_year, week, _ = day.isocalendar()
    return _week(iso_year, week)


def parse_period(label: str) -> Period:
    """The period a label such as 2026, 2026-H1, 2026-Q1, 2026-03 or 2026-W10 names; ValueError if none."""
    match = _LABEL.fullmatch(label.strip()) if isinstance(label, str) else None
    if match is None:
        raise ValueError(f"{label!r} is not a period label; use {_LABEL_FORMS}")
    year = int(match["year"])
    if year < 1:
        raise ValueError(f"{label!r}: year 0000 does not exist")
    if match["half"] is not None:
        half = int(match["half"])
        if half not in (1, 2):
            raise ValueError(f"{label!r}: a half-year is H1 or H2")
        return _half(year, half)
    if match["quarter"] is not None:
        quarter = int(match["quarter"])
        if not 1 <= quarter <= 4:
            raise ValueError(f"{label!r}: a quarter is Q1 to Q4")
        return _quarter(year, quarter)
    if match["week"] is not None:
        text = match["week"]
        week = int(text)
        if len(text) != 2:
            raise ValueError(f"{label!r}: write the week with two digits, e.g. {year:04d}-W{week:02d}")
        try:
            return _week(year, week)
        except ValueError:
            weeks = date(year, 12, 28).isocalendar()[1]
            raise ValueError(f"{label!r}: ISO year {year} has weeks W01 to W{weeks:02d}") from None
    if match["month"] is not None:
        text = match["month"]
        month = int(text)
        if len(text) != 2 or not 1 <= month <= 12:
            raise ValueError(f"{label!r}: a month is 01 to 12")
        return _month(year, month)
    return _year(year)
