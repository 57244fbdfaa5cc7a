"""Driver-level reads and writes for the hot paths (sweep batches, outbox claims and acks), without per-row parameter processing.

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, Integer, any_, column, func, literal, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from duban.engine.store.types import Instant


def _identity(value: Any) -> Any:
    return value


def among(column_: ColumnElement[int], ids: Iterable[int], postgres: bool) -> ColumnElement[bool]:
    """SQL: the integer `column_` is one of `ids`, however many, sent as one parameter.

    An `IN` list binds a parameter per value, and a driver refuses past a limit (psycopg: 65,535).
    """
    values = sorted(set(ids))
    if postgres:
        return column_ == any_(literal(values, postgresql.ARRAY(Integer)))
    listed = select(column("value", Integer)).select_from(func.json_each(literal(json.dumps(values))))
    return column_.in_(listed)


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

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        # The DBAPI connection under the session's own: same transaction, no per-row processing.
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            yield cursor
        finally:
            cursor.close()

    def rows(self, text: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of one query, as the driver returns them."""
        with self._cursor() as cursor:
            cursor.execute(self.sql(text), tuple(params))
            return cursor.fetchall()

    def execute(self, text: str, params: Sequence[Any]) -> int:
        """One statement; how many rows it changed."""
        with self._cursor() as cursor:
            cursor.execute(self.sql(text), tuple(params))
            return cursor.rowcount

    def insert(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        rows: list[tuple[Any, ...]],
        *,
        skip_conflicts: bool = False,
        on_conflict: str = "",
    ) -> int:
        """Rows into `table`; how many went in. `columns` are (name, PostgreSQL type) pairs.

        `on_conflict` is an `ON CONFLICT (…) DO UPDATE …` clause, the same on both databases.

        SQLite gets one executemany. PostgreSQL gets one `INSERT … SELECT FROM unnest(…)` of an
        array per column: executemany there costs a pipelined statement per row, most of it Python.
        """
        if not rows:
            return 0
        names = ", ".join(name for name, _ in columns)
        tail = " ON CONFLICT DO NOTHING" if skip_conflicts else f" {on_conflict}" if on_conflict else ""
        if not self.postgres:
            return self.many(
                f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))}){tail}", rows
            )
        arrays, picked = self._unnest(columns)
        return self.execute(
            f"INSERT INTO {table} ({names}) SELECT {picked} FROM {arrays}{tail}", self._columns(rows)
        )

    def update(
        self,
        table: str,
        key: tuple[str, str],
        columns: Sequence[tuple[str, str]],
        rows: list[tuple[Any, ...]],
    ) -> int:
        """Set `columns` of the rows whose `key` is each tuple's last value; one statement on PostgreSQL."""
        if not rows:
            return 0
        if not self.postgres:
            sets = ", ".join(f"{name} = ?" for name, _ in columns)
            return self.many(f"UPDATE {table} SET {sets} WHERE {key[0]} = ?", rows)
        arrays, _ = self._unnest([*columns, key])
        sets = ", ".join(f"{name} = v.c{i}" for i, (name, _) in enumerate(columns))
        return self.execute(
            f"UPDATE {table} SET {sets} FROM {arrays} WHERE {table}.{key[0]} = v.c{len(columns)}",
            self._columns(rows),
        )

    @staticmethod
    def _unnest(columns: Sequence[tuple[str, str]]) -> tuple[str, str]:
        # %b: arrays go in binary, each element by psycopg's C dumpers (its text format escapes every string
        # through a regex in Python). JSON travels as text and is cast back per value.
        arrays = ", ".join(f"%b::{'text' if kind == 'json' else kind}[]" for _, kind in columns)
        aliases = ", ".join(f"c{i}" for i in range(len(columns)))
        picked = ", ".join(
            f"v.c{i}::json" if kind == "json" else f"v.c{i}" for i, (_, kind) in enumerate(columns)
        )
        return f"unnest({arrays}) AS v({aliases})", picked

    @staticmethod
    def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
        return [list(column) for column in zip(*rows, strict=True)]

    def many(self, text: str, rows: list[tuple[Any, ...]]) -> int:
        """One statement over many parameter tuples (executemany); how many rows it changed."""
        if not rows:
            return 0
        with self._cursor() as cursor:
            cursor.executemany(self.sql(text), rows)
            return cursor.rowcount
