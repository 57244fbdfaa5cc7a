"""The Chinese statutory working-day calendar that `workdays:` deadlines and reminders run on.

A day is a working day when it is Monday to Friday and not a rest day, or when it
is an adjusted working day (调休) on a weekend. The schedules come from the
maintained `chinesecalendar` package (the State Council's yearly notices), and a
deployment override file can add local holidays and working days and whole years
the package does not know yet.

A year that neither source knows is *unknown*: its rest days are the weekends and
the holidays the law fixes (全国年节及纪念日放假办法, see `holidays`), its make-up
working days are not guessed, and every answer that looked at such a day says so
(`provisional`), so a deadline computed on a guess can be recomputed once the
year's schedule arrives.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import yaml
from pydantic import ValidationError

from duban.engine.errors import InvalidInput, Problem
from duban.engine.time.holidays import anchor_day, statutory_rest_days
from duban.engine.time.override_file import OverrideFile
from duban.engine.validation import problems_of

# A schedule that leaves a year without one working day is wrong data; stop looking
# after this many empty years instead of walking to the end of time.
_MAX_EMPTY_YEARS = 10

# Looking for the edges of a holiday break stops this far from the holiday.
_MAX_BREAK_DAYS = 40


@dataclass(frozen=True)
class YearSchedule:
    """One year's published schedule: rest days off weekends' rule and weekend working days."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]


@dataclass(frozen=True)
class CalendarStatus:
    """What the calendar knows on a given day, and what the operator should do about it."""

    today: date
    known_years: list[int]
    package_years: list[int]
    override_years: list[int]
    override_path: str | None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is nothing to warn about."""
        return not self.warnings

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, for `duban calendar status --json` and the API."""
        return {
            "today": self.today.isoformat(),
            "known_years": list(self.known_years),
            "last_known_year": self.known_years[-1] if self.known_years else None,
            "package_years": list(self.package_years),
            "override_years": list(self.override_years),
            "override_path": self.override_path,
            "ok": self.ok,
            "warnings": list(self.warnings),
        }


def package_schedules() -> dict[int, YearSchedule]:
    """Every year the `chinesecalendar` package knows, as schedules."""
    holidays: dict[int, set[date]] = {}
    workdays: dict[int, set[date]] = {}
    for day in chinese_calendar.holidays:
        holidays.setdefault(day.year, set()).add(day)
    for day in chinese_calendar.workdays:
        workdays.setdefault(day.year, set()).add(day)
    # The package's range is continuous: a year inside it without a listed adjusted
    # working day is still a year it knows.
    first, last = min(holidays), max(holidays)
    return {
        year: YearSchedule(year, frozenset(holidays.get(year, ())), frozenset(workdays.get(year, ())))
        for year in range(first, last + 1)
    }


class WorkCalendar:
    """Working days on the statutory calendar, with a deployment's overrides on top."""

    def __init__(
        self,
        schedules: Mapping[int, YearSchedule],
        *,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        package_years: Iterable[int] | None = None,
        override_years: Iterable[int] = (),
        override_path: str | None = None,
    ) -> None:
        self._schedules = dict(schedules)
        self._extra_holidays = frozenset(extra_holidays)
        self._extra_workdays = frozenset(extra_workdays)
        clash = self._extra_holidays & self._extra_workdays
        if clash:
            raise ValueError(f"days both extra holidays and extra workdays: {sorted(clash)}")
        self._package_years = sorted(package_years if package_years is not None else self._schedules)
        self._override_years = sorted(override_years)
        self._override_path = override_path
        # year -> rest days of that year, and year -> its working days in order.
        self._rest: dict[int, frozenset[date]] = {}
        self._work: dict[int, tuple[date, ...]] = {}

    @classmethod
    def load(
        cls,
        override_path: Path | None = None,
        *,
        base: Mapping[int, YearSchedule] | None = None,
    ) -> WorkCalendar:
        """The package's calendar (or `base`) with the override file at `override_path` applied."""
        schedules = dict(package_schedules() if base is None else base)
        package_years = sorted(schedules)
        if override_path is None:
            return cls(schedules, package_years=package_years)
        override = load_override(override_path)
        # A year in the override file replaces the package's: the deployment's word is
        # the newer one (a corrected or late-published schedule).
        schedules.update(override.years)
        return cls(
            schedules,
            extra_holidays=override.holidays,
            extra_workdays=override.workdays,
            package_years=package_years,
            override_years=sorted(override.years),
            override_path=str(override_path),
        )

    # --- what is known --------------------------------------------------------

    def is_known(self, year: int) -> bool:
        """Whether the calendar has `year`'s published schedule."""
        return year in self._schedules

    def known_years(self) -> list[int]:
        """The years whose schedule is known, in order."""
        return sorted(self._schedules)

    # --- single days ------------------------------------------------------------

    def _rest_days(self, year: int) -> frozenset[date]:
        rest = self._rest.get(year)
        if rest is None:
            rest = self._build_rest(year)
            self._rest[year] = rest
        return rest

    def _build_rest(self, year: int) -> frozenset[date]:
        schedule = self._schedules.get(year)
        # A year without its notice still has the holidays the law fixes.
        holidays = schedule.holidays if schedule else statutory_rest_days(year)
        workdays = schedule.workdays if schedule else frozenset()
        rest: set[date] = set()
        day = date(year, 1, 1)
        one = timedelta(days=1)
        while day.year == year:
            # Later sources win: weekends, then the year's schedule, then the local extras.
            is_rest = day.weekday() >= 5 or day in holidays
            if day in workdays:
                is_rest = False
            if day in self._extra_holidays:
                is_rest = True
            if day in self._extra_workdays:
                is_rest = False
            if is_rest:
                rest.add(day)
            day += one
        return frozenset(rest)

    def _workdays(self, year: int) -> tuple[date, ...]:
        work = self._work.get(year)
        if work is None:
            rest = self._rest_days(year)
            start = date(year, 1, 1)
            days = (start + timedelta(days=i) for i in range((date(year + 1, 1, 1) - start).days))
            work = tuple(day for day in days if day not in rest)
            self._work[year] = work
        return work

    def is_workday(self, day: date) -> bool:
        """Whether `day` is a working day (an unknown year: Monday to Friday, plus the extras)."""
        if isinstance(day, datetime):
            # A datetime never equals a date in a set: refuse it rather than answer wrongly.
            raise TypeError("is_workday takes a date, not a datetime")
        return day not in self._rest_days(day.year)

    # --- walking over days ------------------------------------------------------

    def add_workdays(self, start: date, n: int) -> tuple[date, bool]:
        """The n-th working day strictly after `start`, and whether an unknown year was consulted."""
        if n < 1:
            raise ValueError(f"add_workdays needs n >= 1, not {n}")
        provisional = False
        year = start.year
        work = self._workdays(year)
        index = bisect_right(work, start)
        # Days after `start` in its own year are consulted only if there are any.
        if start != date(year, 12, 31) and not self.is_known(year):
            provisional = True
        empty = 0
        remaining = n
        while True:
            available = len(work) - index
            if remaining <= available:
                return work[index + remaining - 1], provisional
            remaining -= available
            empty = empty + 1 if not work else 0
            if empty > _MAX_EMPTY_YEARS:
                raise ValueError(
                    f"no working day in the {_MAX_EMPTY_YEARS} years before {year}: check the calendar"
                )
            year += 1
            provisional = provisional or not self.is_known(year)
            work = self._workdays(year)
            index = 0

    def last_workday_on_or_before(self, day: date) -> tuple[date, bool]:
        """The last working day on or before `day`, and whether an unknown year was consulted."""
        year = day.year
        provisional = not self.is_known(year)
        work = self._workdays(year)
        index = bisect_right(work, day)
        for _ in range(_MAX_EMPTY_YEARS + 1):
            if index > 0:
                return work[index - 1], provisional
            year -= 1
            provisional = provisional or not self.is_known(year)
            work = self._workdays(year)
            index = len(work)
        raise ValueError(f"no working day in the {_MAX_EMPTY_YEARS} years before {day}: check the calendar")

    def first_workday_on_or_after(self, day: date) -> tuple[date, bool]:
        """`day` if it is a working day, else the next one; and whether an unknown year was consulted."""
        if self.is_workday(day):
            return day, not self.is_known(day.year)
        found, provisional = self.add_workdays(day, 1)
        return found, provisional or not self.is_known(day.year)

    def workdays_before(self, day: date, n: int) -> tuple[date, bool]:
        """The n-th working day strictly before `day`, and whether an unknown year was consulted."""
        if n < 1:
            raise ValueError(f"workdays_before needs n >= 1, not {n}")
        year = day.year
        provisional = not self.is_known(year)
        work = self._workdays(year)
        index = bisect_left(work, day)
        remaining = n
        for _ in range(n + _MAX_EMPTY_YEARS + 1):
            if remaining <= index:
                return work[index - remaining], provisional
            remaining -= index
            year -= 1
            provisional = provisional or not self.is_known(year)
            work = self._workdays(year)
            index = len(work)
        raise ValueError(f"no working day in the {_MAX_EMPTY_YEARS} years before {day}: check the calendar")

    def holiday_break(self, name: str, year: int) -> tuple[date, date, bool]:
        """The first and last rest day of statutory holiday `name`'s break in `year`, and whether it is provisional.

        The break is the run of consecutive rest days around the holiday, weekends
        included, so it is the notice's layout in a known year and the law's days
        plus the weekends around them in an unknown one.
        """
        anchor = anchor_day(name, year)
        one = timedelta(days=1)
        first = last = anchor
        # A local override may make the holiday itself a working day; the holiday's day
        # then stands for the break. No break is longer than a few weeks.
        if not self.is_workday(anchor):
            for _ in range(_MAX_BREAK_DAYS):
                if self.is_workday(first - one):
                    break
                first -= one
            for _ in range(_MAX_BREAK_DAYS):
                if self.is_workday(last + one):
                    break
                last += one
        provisional = not (self.is_known(first.year) and self.is_known(last.year))
        return first, last, provisional

    def workdays_between(self, first: date, last: date) -> list[date]:
        """The working days from `first` to `last`, both included."""
        found: list[date] = []
        for year in range(first.year, last.year + 1):
            work = self._workdays(year)
            found.extend(work[bisect_left(work, first) : bisect_right(work, last)])
        return found

    # --- for the operator -------------------------------------------------------

    def status(self, today: date, warn_days: int = 60) -> CalendarStatus:
        """Known years and warnings as of `today` (the next year missing within `warn_days` of year end)."""
        warnings: list[str] = []
        year = today.year
        if not self.is_known(year):
            warnings.append(
                f"the calendar does not know {year}: deadlines in {year} are provisional (weekends and "
                f"the law's fixed holidays, no make-up working days); add the State Council's {year} "
                f"schedule to the override file"
            )
        elif not self.is_known(year + 1):
            days_left = (date(year + 1, 1, 1) - today).days
            if days_left <= warn_days:
                warnings.append(
                    f"{year} ends in {days_left} days and the calendar does not know {year + 1}: "
                    f"working-day deadlines in {year + 1} will be provisional until its schedule "
                    f"is added to the override file"
                )
        return CalendarStatus(
            today=today,
            known_years=self.known_years(),
            package_years=list(self._package_years),
            override_years=list(self._override_years),
            override_path=self._override_path,
            warnings=warnings,
        )


# --- the override file ----------------------------------------------------------


@dataclass(frozen=True)
class Override:
    """A parsed override file: whole years, and extra days in any year."""

    years: dict[int, YearSchedule]
    holidays: frozenset[date]
    workdays: frozenset[date]


class _OverrideLoader(yaml.SafeLoader):
    """Safe YAML that keeps dates as text (so a bad one gets a located message) and refuses repeated keys."""


# Without this resolver YAML would turn 2027-02-30 into an exception with no location.
_OverrideLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _OverrideLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_OverrideLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

_EXPECTED_KEYS = {1: "years, holidays or workdays", 3: "holidays or workdays"}


def parse_override(text: str, where: str) -> Override:
    """Parse the text of an override file; InvalidInput lists every problem with `where` and the key."""
    try:
        data = yaml.load(text, Loader=_OverrideLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        location = f"{where}:{mark.line + 1}" if mark is not None else where
        raise InvalidInput([Problem(location, "", f"not valid YAML: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidInput([Problem(where, "", f"not valid YAML: {exc}")]) from None
    if data is None:
        return Override({}, frozenset(), frozenset())
    if not isinstance(data, dict):
        raise InvalidInput([Problem(where, "", "must be a mapping with years, holidays and workdays")])
    try:
        parsed = OverrideFile.model_validate(data)
    except ValidationError as exc:
        problems = problems_of(exc, where, wording={"extra_forbidden": "unknown key"})
        for p in problems:
            if p.message == "unknown key":
                p.message += (
                    f"; expected {_EXPECTED_KEYS.get(p.field.count('.') + 1, 'holidays or workdays')}"
                )
        raise InvalidInput(problems) from None
    years = {
        year: YearSchedule(year, frozenset(block.holidays), frozenset(block.workdays))
        for year, block in parsed.years.items()
    }
    return Override(years, frozenset(parsed.holidays), frozenset(parsed.workdays))


def load_override(path: Path) -> Override:
    """Read and parse the override file at `path`; InvalidInput if it is missing or wrong."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput([Problem(where, "", "calendar override file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput([Problem(where, "", f"cannot read the calendar override file: {exc}")]) from None
    return parse_override(text, where)
