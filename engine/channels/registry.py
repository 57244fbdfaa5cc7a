"""Choosing a transport for a channel from the deployment's settings."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import tzinfo
from typing import Protocol

import httpx

from duban.engine.channels.dingtalk import DingTalkTransport
from duban.engine.channels.errors import DeliveryFailed
from duban.engine.channels.http_post import HttpTransport
from duban.engine.channels.model import Digest
from duban.engine.channels.render import DEFAULT_MAX_LINES, DEFAULT_TZ
from duban.engine.channels.smtp import SmtpTransport
from duban.engine.channels.webhook import GenericWebhookTransport
from duban.engine.channels.wecom import WeComTransport
from duban.engine.time.clock import Clock


class Transport(Protocol):
    """Anything that can deliver a digest: returns when delivered, raises DeliveryFailed when not."""

    def send(self, digest: Digest) -> None:
        """Deliver one digest."""


@dataclass(frozen=True)
class ChannelSettings:
    """The deployment settings the transports need (filled from DUBAN_* by the caller)."""

    tz: tzinfo = DEFAULT_TZ
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_implicit_tls: bool = False
    smtp_sender: str = "duban@localhost"
    timeout_seconds: float = 10.0
    max_lines: int = DEFAULT_MAX_LINES
    ssl_context: ssl.SSLContext | None = None
    webhook_hosts: tuple[str, ...] = ()  # empty: any host but the refused addresses (targets.py)


def transport_for(
    channel: str, settings: ChannelSettings, clock: Clock, *, client: httpx.Client | None = None
) -> Transport:
    """A transport for `channel` ("email", "webhook"/"generic", "wecom", "dingtalk").

    "inbox" has no transport: in-app notices are rows the delivery step writes itself.
    Raises DeliveryFailed (not retryable) when the channel is not configured, ValueError
    when the channel is unknown.
    """
    if channel == "email":
        if not settings.smtp_host:
            raise DeliveryFailed("email is not configured (set the SMTP host)", retryable=False)
        return SmtpTransport(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_username,
            settings.smtp_password,
            settings.smtp_starttls,
            settings.smtp_sender,
            settings.timeout_seconds,
            tz=settings.tz,
            clock=clock,
            ssl_context=settings.ssl_context,
            max_lines=settings.max_lines,
            implicit_tls=settings.smtp_implicit_tls,
        )
    if channel in ("webhook", "generic", "wecom", "dingtalk"):
        return _http(channel, settings, clock, client)
    if channel == "inbox":
        raise ValueError("the inbox has no transport: the delivery step writes inbox rows itself")
    raise ValueError(f"unknown channel {channel!r}")


def _http(
    channel: str, settings: ChannelSettings, clock: Clock, client: httpx.Client | None
) -> HttpTransport:
    http: HttpTransport
    if channel == "wecom":
        http = WeComTransport(
            settings.timeout_seconds, tz=settings.tz, max_lines=settings.max_lines, client=client
        )
    elif channel == "dingtalk":
        http = DingTalkTransport(
            clock, settings.timeout_seconds, tz=settings.tz, max_lines=settings.max_lines, client=client
        )
    else:
        http = GenericWebhookTransport(
            settings.timeout_seconds, tz=settings.tz, max_lines=settings.max_lines, client=client
        )
    http.allowed_hosts = settings.webhook_hosts
    return http
