"""What every service needs besides the database: the clock and the deployment's calendar rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from duban.engine.time.calendar import WorkCalendar
from duban.engine.time.clock import Clock


@dataclass(frozen=True)
class Runtime:
    """The injected clock plus the deployment settings the domain uses."""

    clock: Clock
    tz: ZoneInfo
    calendar: WorkCalendar
    reminder_time: time = time(9, 0)
    data_dir: Path = Path("data")
    max_upload_bytes: int = 20 * 1024 * 1024

    def now(self) -> datetime:
        return self.clock.now()

    def local(self, instant: datetime) -> datetime:
        """The instant in the deployment's time zone."""
        return instant.astimezone(self.tz)
