"""The calendar override file as a model: years with their holidays and make-up workdays.

Dates stay text until checked here, so a bad one is named by its place in the file
(years.2027.holidays[3]) rather than failing inside the YAML parser.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from duban.engine.validation import FieldProblem

# Years outside this range are almost certainly typos (20277).
MIN_YEAR = 1900
MAX_YEAR = 2999
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(item: Any) -> date:
    text = str(item) if isinstance(item, (str, int)) and not isinstance(item, bool) else None
    if text is None or not _DATE.fullmatch(text):
        raise ValueError(f"{item!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text} is not a day of the calendar") from None


def _list(value: Any) -> Any:
    if value is not None and not isinstance(value, list):
        raise ValueError("must be a list of dates (YYYY-MM-DD)")
    return value or []


def _year(value: Any) -> int:
    if isinstance(value, bool) or not re.fullmatch(r"\d{4}", str(value)):
        raise ValueError("a year must be four digits, e.g. 2027")
    year = int(value)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"year {year} is outside {MIN_YEAR}-{MAX_YEAR}")
    return year


def _mapping(message: str) -> Any:
    def check(value: Any) -> Any:
        if value is not None and not isinstance(value, dict):
            raise ValueError(message)
        # Keys as text, so that a location reads years.2027 (an integer would read as an index).
        return {str(k): v for k, v in (value or {}).items()}

    return check


Days = Annotated[list[Annotated[date, BeforeValidator(_day)]], BeforeValidator(_list)]


class YearBlock(BaseModel):
    """One year's published schedule."""

    model_config = ConfigDict(extra="forbid")

    holidays: Days = Field(default_factory=list)
    workdays: Days = Field(default_factory=list)


Years = dict[
    Annotated[int, BeforeValidator(_year)],
    Annotated[YearBlock, BeforeValidator(_mapping("must be a mapping with holidays and workdays"))],
]


class OverrideFile(BaseModel):
    """The whole file: published years, and extra holidays or workdays of any year."""

    model_config = ConfigDict(extra="forbid")

    years: Annotated[
        Years, BeforeValidator(_mapping("must be a mapping of year to {holidays: [...], workdays: [...]}"))
    ] = Field(default_factory=dict)
    holidays: Days = Field(default_factory=list)
    workdays: Days = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> OverrideFile:
        found: list[tuple[str, str]] = []
        for year, block in self.years.items():
            path = f"years.{year}"
            if not block.holidays:
                # Every published schedule has New Year's Day; an empty list would make the
                # year "known" with weekends alone, silently.
                found.append((f"{path}.holidays", "a year's schedule must list its holidays"))
            for kind in ("holidays", "workdays"):
                found += [
                    (f"{path}.{kind}[{i}]", f"{day} is not in {year}")
                    for i, day in enumerate(getattr(block, kind))
                    if day.year != year
                ]
            found += _overlaps(block.holidays, block.workdays, f"{path}.")
        found += _overlaps(self.holidays, self.workdays, "")
        if found:
            raise FieldProblem.of(found)
        return self


def _overlaps(holidays: list[date], workdays: list[date], path: str) -> list[tuple[str, str]]:
    """A day cannot be both a rest day and a working day."""
    first = {}
    for i, day in enumerate(holidays):
        first.setdefault(day, f"{path}holidays[{i}]")
    return [
        (f"{path}workdays[{i}]", f"{day} is also listed as a holiday at {first[day]}")
        for i, day in enumerate(workdays)
        if day in first
    ]
