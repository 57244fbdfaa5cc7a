"""What a transport is handed: one recipient's notices, gathered into one digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

CHANNELS: Final = ("email", "webhook", "wecom", "dingtalk", "inbox")


@dataclass(frozen=True)
class Notice:
    """One notification (task, kind, step) as the reader should see it."""

    task_id: int
    kind: str
    step: int
    title: str
    title_en: str
    unit_code: str
    unit_name: str
    due_at: datetime
    escalation_level: int
    period: str
    reason: str | None = None

    def __post_init__(self) -> None:
        # A naive due time would be shown in whatever zone the server happens to run in.
        if self.due_at.tzinfo is None or self.due_at.utcoffset() is None:
            raise ValueError(f"notice for task {self.task_id}: due_at must be timezone-aware")


@dataclass(frozen=True)
class Digest:
    """All of one recipient's notices for one channel and address, sent as one message."""

    channel: str
    address: str
    secret: str | None
    notices: list[Notice]
    idempotency_key: str

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}; expected one of {', '.join(CHANNELS)}")
        if not self.notices:
            raise ValueError("a digest needs at least one notice")
        if not self.idempotency_key:
            raise ValueError("a digest needs an idempotency key")
