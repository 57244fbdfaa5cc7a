"""Column types shared by the storage models.

`Instant` keeps every stored time in UTC and hands back timezone-aware datetimes,
so SQLite (which has no time zones) and PostgreSQL (timestamptz) compare alike.
`Path` is the unit tree's materialized path; it sorts bytewise on both databases
so a subtree is one index range scan.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.types import TypeDecorator


class Instant(TypeDecorator[datetime]):
    """A point in time, stored as UTC, read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"an Instant needs a timezone-aware datetime, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# A path segment's width: 36**5 ≈ 60 million units. The store's counts cut paths by it too, so it lives here.
SEGMENT = 5


def path_type() -> Any:
    """The materialized-path column type: bytewise collation on PostgreSQL too."""
    return String(255).with_variant(String(255, collation="C"), "postgresql")
