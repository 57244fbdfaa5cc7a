"""The clock: every reading of the time in duban goes through one of these.

Services take a `Clock` so a test can let a year pass in a second and
`duban --now ...` can replay any day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that shows one instant until it is moved; for replays and tests."""

    def __init__(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("a FixedClock needs a timezone-aware instant")
        self._now = instant

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("a FixedClock needs a timezone-aware instant")
        self._now = instant

    def advance(self, span: timedelta) -> None:
        self._now += span
