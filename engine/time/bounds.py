"""The years a date may fall in: a plan's dates lie in this century, and arithmetic on them never overflows.

Year 9999 plus a day, or year 1 at a +08:00 offset, is outside what datetime can hold; such a date
is a typing slip, refused with where it came from before any timeline is computed from it.
"""

from __future__ import annotations

from datetime import date, datetime

from duban.engine.errors import InvalidInput, Problem

FIRST_YEAR = 2000
LAST_YEAR = 2100


def year_problem(value: date | datetime) -> str | None:
    """What is wrong with a date or instant outside FIRST_YEAR..LAST_YEAR, or None when it is within."""
    if FIRST_YEAR <= value.year <= LAST_YEAR:
        return None
    return f"{value.isoformat()} is outside the years {FIRST_YEAR}–{LAST_YEAR}"


def check_year(value: date | datetime | None, where: str, field: str) -> None:
    """Refuse (InvalidInput) a date or instant outside FIRST_YEAR..LAST_YEAR; None passes."""
    problem = year_problem(value) if value is not None else None
    if problem is not None:
        raise InvalidInput([Problem(where, field, problem)])
