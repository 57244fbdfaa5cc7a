"""Wiring in one place: settings in, database engine and runtime out.

The CLI, the HTTP app, the embedded scheduler and the Prefect flows all start here.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from api.settings import Settings
from engine.calendar import WorkCalendar
from engine.clock import Clock, FixedClock, SystemClock
from engine.db import make_engine
from engine.runtime import Runtime


def build_runtime(settings: Settings, now: datetime | None = None, clock: Clock | None = None) -> Runtime:
    """The runtime for these settings; `now` pins the clock (replays, tests)."""
    if clock is None:
        clock = FixedClock(now) if now is not None else SystemClock()
    return Runtime(
        clock=clock,
        tz=ZoneInfo(settings.timezone),
        calendar=WorkCalendar.load(settings.calendar_override),
        reminder_time=time(settings.reminder_hour, 0),
        data_dir=settings.data_dir,
        max_upload_bytes=settings.max_upload_mb * 1024 * 1024,
    )


def build_engine(settings: Settings) -> Engine:
    """The database engine for these settings."""
    return make_engine(settings.database_url)
