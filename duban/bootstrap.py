"""The composition root: settings in; the database engine, the runtime, the transports and the delivery options out.

The CLI, the HTTP app, the embedded scheduler and the Prefect flows all start here,
so each is wired the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from duban.engine.channels import ChannelSettings, Transport
from duban.engine.channels.targets import parse_hosts
from duban.engine.followup.delivery import transports_from
from duban.engine.runtime import Runtime
from duban.engine.store.db import make_engine
from duban.engine.time.calendar import WorkCalendar
from duban.engine.time.clock import Clock, FixedClock, SystemClock
from duban.settings import Settings


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


def channel_settings(settings: Settings) -> ChannelSettings:
    """The transports' settings from the deployment's."""
    return ChannelSettings(
        tz=ZoneInfo(settings.timezone),
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        smtp_username=settings.smtp_username,
        smtp_password=settings.smtp_password,
        smtp_starttls=settings.smtp_starttls,
        smtp_sender=settings.smtp_sender,
        webhook_hosts=parse_hosts(settings.webhook_hosts),
    )


def transports(settings: Settings, clock: Clock) -> Mapping[str, Transport]:
    """A transport per configured channel."""
    return transports_from(channel_settings(settings), clock)


def delivery_options(settings: Settings) -> dict[str, Any]:
    """deliver_outbox's keyword arguments from the settings."""
    return {
        "max_attempts": settings.deliver_max_attempts,
        "backoff": (settings.deliver_backoff_seconds, settings.deliver_backoff_cap_seconds),
    }
