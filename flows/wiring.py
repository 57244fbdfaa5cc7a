"""What the scheduler and the flows share: settings turned into transports and delivery options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from engine.channels import ChannelSettings, Transport
from engine.clock import Clock
from engine.delivery import transports_from


def channel_settings(settings: Any) -> ChannelSettings:
    """The transports' settings from the deployment's (DUBAN_*) settings."""
    return ChannelSettings(
        tz=ZoneInfo(getattr(settings, "timezone", "Asia/Shanghai")),
        smtp_host=getattr(settings, "smtp_host", None),
        smtp_port=getattr(settings, "smtp_port", 587),
        smtp_username=getattr(settings, "smtp_username", None),
        smtp_password=getattr(settings, "smtp_password", None),
        smtp_starttls=getattr(settings, "smtp_starttls", True),
        smtp_sender=getattr(settings, "smtp_sender", "duban@localhost"),
    )


def transports(settings: Any, clock: Clock) -> Mapping[str, Transport]:
    """A transport per configured channel."""
    return transports_from(channel_settings(settings), clock)


def delivery_options(settings: Any) -> dict[str, Any]:
    """deliver_outbox's keyword arguments from the settings."""
    return {
        "max_attempts": getattr(settings, "deliver_max_attempts", 8),
        "backoff": (
            getattr(settings, "deliver_backoff_seconds", 30.0),
            getattr(settings, "deliver_backoff_cap_seconds", 6 * 3600.0),
        ),
    }
