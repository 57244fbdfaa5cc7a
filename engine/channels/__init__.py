"""Notification channels: rendering a digest of notices and delivering it by email or webhook.

The delivery step (engine outbox) claims rows, gathers one recipient's notices into a
`Digest`, and calls a transport's `send`; a `DeliveryFailed` says whether to retry,
and `backoff_delay` says when.
"""

from __future__ import annotations

from duban.engine.channels.backoff import backoff_delay
from duban.engine.channels.dingtalk import (
    DingTalkTransport,
    dingtalk_sign,
    dingtalk_signed_url,
    dingtalk_timestamp,
)
from duban.engine.channels.errors import DeliveryFailed
from duban.engine.channels.http_post import redact_url
from duban.engine.channels.model import CHANNELS, Digest, Notice
from duban.engine.channels.noop import NoopTransport
from duban.engine.channels.registry import ChannelSettings, Transport, transport_for
from duban.engine.channels.render import RenderedMessage, format_due, kind_label, render_digest, render_within
from duban.engine.channels.smtp import SmtpTransport, message_id_for
from duban.engine.channels.text import truncate_utf8, utf8_len
from duban.engine.channels.webhook import GenericWebhookTransport, webhook_payload
from duban.engine.channels.wecom import WeComTransport

__all__ = [
    "CHANNELS",
    "ChannelSettings",
    "DeliveryFailed",
    "Digest",
    "DingTalkTransport",
    "GenericWebhookTransport",
    "NoopTransport",
    "Notice",
    "RenderedMessage",
    "SmtpTransport",
    "Transport",
    "WeComTransport",
    "backoff_delay",
    "dingtalk_sign",
    "dingtalk_signed_url",
    "dingtalk_timestamp",
    "format_due",
    "kind_label",
    "message_id_for",
    "redact_url",
    "render_digest",
    "render_within",
    "transport_for",
    "truncate_utf8",
    "utf8_len",
    "webhook_payload",
]
