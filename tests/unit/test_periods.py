"""Local calendar periods: labels, bounds, succession and parsing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from duban.engine.language.model import Every
from duban.engine.time.periods import PERIOD_KINDS, Period, parse_period, period_of


@pytest.mark.parametrize(
    ("kind", "day", "label", "start", "end"),
    [
        ("year", date(2026, 3, 11), "2026", date(2026, 1, 1), date(2026, 12, 31)),
        ("half_year", date(2026, 6, 30), "2026-H1", date(2026, 1, 1), date(2026, 6, 30)),
        ("half_year", date(2026, 7, 1), "2026-H2", date(2026, 7, 1), date(2026, 12, 31)),
        ("quarter", date(2026, 3, 31), "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("quarter", date(2026, 5, 20), "2026-Q2", date(2026, 4, 1), date(2026, 6, 30)),
        ("quarter", date(2026, 8, 1), "2026-Q3", date(2026, 7, 1), date(2026, 9, 30)),
        ("quarter", date(2026, 12, 31), "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        ("month", date(2026, 3, 11), "2026-03", date(2026, 3, 1), date(2026, 3, 31)),
        ("month", date(2026, 2, 1), "2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("month", date(2028, 2, 29), "2028-02", date(2028, 2, 1), date(2028, 2, 29)),
        ("week", date(2026, 3, 4), "2026-W10", date(2026, 3, 2), date(2026, 3, 8)),
        # ISO weeks belong to their ISO year: these days sit across a year boundary.
        ("week", date(2025, 12, 29), "2026-W01", date(2025, 12, 29), date(2026, 1, 4)),
        ("week", date(2027, 1, 1), "2026-W53", date(2026, 12, 28), date(2027, 1, 3)),
        ("week", date(2021, 1, 3), "2020-W53", date(2020, 12, 28), date(2021, 1, 3)),
    ],
)
def test_period_of(kind: str, day: date, label: str, start: date, end: date) -> None:
    period = period_of(kind, day)
    assert period == Period(kind, label, start, end)  # type: ignore[arg-type]
    assert str(period) == label
    assert period.contains(day)
    assert not period.contains(start - timedelta(days=1))
    assert not period.contains(end + timedelta(days=1))
    assert parse_period(label) == period


def test_period_of_accepts_the_definition_enum() -> None:
    assert period_of(Every.half_year, date(2026, 9, 1)).label == "2026-H2"
    assert period_of(Every.half_year, date(2026, 9, 1)).kind == "half_year"


@pytest.mark.parametrize(
    ("label", "following"),
    [
        ("2026", "2027"),
        ("2026-H1", "2026-H2"),
        ("2026-H2", "2027-H1"),
        ("2026-Q4", "2027-Q1"),
        ("2026-12", "2027-01"),
        ("2026-01", "2026-02"),
        ("2026-W52", "2026-W53"),
        ("2026-W53", "2027-W01"),
        ("2025-W52", "2026-W01"),
    ],
)
def test_next_and_previous(label: str, following: str) -> None:
    period = parse_period(label)
    assert period.next().label == following
    assert period.next().start == period.end + timedelta(days=1)
    assert period.next().previous() == period


@pytest.mark.parametrize("kind", PERIOD_KINDS)
def test_periods_tile_the_calendar(kind: str) -> None:
    # Walking next() over three years must cover every day exactly once.
    period = period_of(kind, date(2025, 1, 1))
    day = period.start
    while period.start < date(2028, 1, 1):
        assert period.start == day
        assert period.days >= 1
        assert parse_period(period.label) == period
        day = period.end + timedelta(days=1)
        period = period.next()


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("", "not a period label"),
        ("26", "not a period label"),
        ("2026-", "not a period label"),
        ("2026-H3", "H1 or H2"),
        ("2026-Q0", "Q1 to Q4"),
        ("2026-Q5", "Q1 to Q4"),
        ("2026-13", "01 to 12"),
        ("2026-00", "01 to 12"),
        ("2026-3", "01 to 12"),
        ("2026-W1", "two digits"),
        ("2025-W53", "W01 to W52"),
        ("2026-W54", "W01 to W53"),
        ("2026-W00", "W01 to W53"),
        ("2026q1", "not a period label"),
        ("2026-h1", "not a period label"),
        ("0000", "does not exist"),
    ],
)
def test_bad_labels_are_refused_clearly(label: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_period(label)


def test_bad_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="not a period kind"):
        period_of("fortnight", date(2026, 1, 1))
