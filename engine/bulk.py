"""Driver-level reads and writes for the sweep's batches, without per-row parameter processing.

SQLAlchemy's executemany builds and converts every row's parameters one by one; at
100,000 due actions the sweep spent more time there than in the database. A `Bulk`
sends plain tuples straight to the DBAPI cursor of the session's own connection (same
transaction), converts each distinct instant once, and reads rows back unconverted,
parsing each distinct stored instant once. The values are written exactly as the typed
columns would write them (the `Instant` and `Date` types' own processors, JSON as
`json.dumps`), so the ORM reads them back alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date
from sqlalchemy.orm import Session

from engine.types import Instant


def _identity(value: Any) -> Any:
    return value


class Bulk:
    """Plain SQL with `?` placeholders on the session's connection, for either database."""

    def __init__(self, session: Session) -> None:
        self.conn = session.connection()
        dialect = self.conn.dialect
        self.postgres = dialect.name == "postgresql"
        instant, day = Instant().dialect_impl(dialect), Date().dialect_impl(dialect)
        self._to_db: Callable[[Any], Any] = instant.bind_processor(dialect) or _identity
        self._instant_from_db: Callable[[Any], Any] = instant.result_processor(dialect, None) or _identity
        self._date_from_db: Callable[[Any], Any] = day.result_processor(dialect, None) or _identity
        self._written: dict[datetime, Any] = {}
        self._instants: dict[Any, Any] = {}
        self._dates: dict[Any, Any] = {}

    def sql(self, text: str) -> str:
        """The statement in the driver's placeholder style (psycopg: %s)."""
        return text.replace("?", "%s") if self.postgres else text

    @staticmethod
    def _once(memo: dict[Any, Any], value: Any, convert: Callable[[Any], Any]) -> Any:
        if value is None:
            return None
        found = memo.get(value)
        if found is None:
            found = memo[value] = convert(value)
        return found

    def instant(self, value: datetime | None) -> Any:
        """An instant as the column stores it; each distinct value converted once."""
        return self._once(self._written, value, self._to_db)

    def read_instant(self, raw: Any) -> datetime | None:
        """A stored instant as the engine uses it (UTC, aware); each distinct value parsed once."""
        return self._once(self._instants, raw, self._instant_from_db)

    def read_date(self, raw: Any) -> date | None:
        """A stored date as a `date`."""
        return self._once(self._dates, raw, self._date_from_db)

    def one_of(self, column: str) -> str:
        """SQL: `column` is one of a list given as a single parameter (`listed`), whatever its length."""
        return f"{column} = ANY(?)" if self.postgres else f"{column} IN (SELECT value FROM json_each(?))"

    def listed(self, values: Sequence[Any]) -> Any:
        """A list as the single parameter of `one_of`: an array on PostgreSQL, JSON text on SQLite."""
        return list(values) if self.postgres else json.dumps(list(values))

    @staticmethod
    def json(value: Any) -> str:
        """A JSON column's value, serialised as SQLAlchemy's JSON type does by default."""
        return json.dumps(value)

    def _cursor(self) -> Any:
        # The DBAPI connection under the session's own: same transaction, no per-row processing.
        return self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def rows(self, text: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of one query, as the driver returns them."""
        cursor = self._cursor()
        try:
            cursor.execute(self.sql(text), tuple(params))
            return cursor.fetchall()
        finally:
            cursor.close()

    def many(self, text: str, rows: list[tuple[Any, ...]]) -> int:
        """One statement over many parameter tuples (executemany); how many rows it changed."""
        if not rows:
            return 0
        cursor = self._cursor()
        try:
            cursor.executemany(self.sql(text), rows)
            return cursor.rowcount
        finally:
            cursor.close()
