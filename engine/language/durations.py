"""ISO-8601 durations, as the definition language uses them.

A duration made only of years, months, weeks and days is *date-granular*: added to
a date it gives a date, and month arithmetic clamps to the month's end (P1M from
31 January is the end of February). A duration with hours, minutes or seconds is
an exact span of time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import isodate


@dataclass(frozen=True)
class Duration:
    """A parsed ISO-8601 duration: calendar part (years, months, days) and exact part."""

    text: str
    years: int
    months: int
    days: int
    exact: timedelta

    @property
    def date_granular(self) -> bool:
        return self.exact == timedelta(0)

    def _iso(self, sign: int) -> isodate.Duration:
        return isodate.Duration(days=sign * self.days, years=sign * self.years, months=sign * self.months)

    def add_to_date(self, day: date) -> date:
        return day + self._iso(1)

    def subtract_from_date(self, day: date) -> date:
        return day - self._iso(1)

    def add_to(self, instant: datetime) -> datetime:
        return instant + self._iso(1) + self.exact

    def subtract_from(self, instant: datetime) -> datetime:
        return instant - self._iso(1) - self.exact


def parse_duration(text: str) -> Duration:
    """Parse `text` (e.g. P1Y, P30D, PT24H); raise ValueError naming what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not an ISO-8601 duration such as P30D or PT24H")
    try:
        parsed = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError) as exc:
        raise ValueError(f"{text!r} is not an ISO-8601 duration such as P30D or PT24H") from exc
    if isinstance(parsed, timedelta):
        years = months = 0
        span = parsed
    else:
        years, months, span = int(parsed.years), int(parsed.months), parsed.tdelta
        if parsed.years != years or parsed.months != months:
            raise ValueError(f"{text!r}: fractional years or months are not supported")
    if span < timedelta(0) or years < 0 or months < 0:
        raise ValueError(f"{text!r}: a duration cannot be negative")
    if "T" in text.upper():
        # Any time part makes the whole span exact: PT24H is 24 hours, not "tomorrow".
        return Duration(text=text, years=years, months=months, days=0, exact=span)
    return Duration(text=text, years=years, months=months, days=span.days, exact=timedelta(0))
