"""A driver connection of the bench's own (sqlite3 or psycopg, autocommit): the baselines' side, no SQLAlchemy."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url

from duban.engine.store.db import normalize_url


class Raw:
    """A driver connection of its own (sqlite3 or psycopg, autocommit), for baselines and setup."""

    def __init__(self, kind: str, conn: Any) -> None:
        self.kind = kind
        self.conn = conn

    @classmethod
    def open(cls, url: str) -> Raw:
        parsed = make_url(normalize_url(url))
        if parsed.get_backend_name() == "sqlite":
            conn = sqlite3.connect(parsed.database, isolation_level=None, timeout=30, check_same_thread=False)
            for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "synchronous=NORMAL"):
                conn.execute(f"PRAGMA {pragma}")
            return cls("sqlite", conn)
        import psycopg

        conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        return cls("postgresql", psycopg.connect(conninfo, autocommit=True))

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.kind == "postgresql" else text

    def _params(self, params: Any) -> Any:
        # psycopg reads % as a placeholder whenever parameters are given, even none: `id % 2` needs None.
        return params if params or self.kind == "sqlite" else None

    def time(self, instant: datetime) -> Any:
        """An instant as the column stores it (SQLAlchemy's SQLite format: naive UTC text)."""
        if self.kind == "sqlite":
            return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return instant

    def json(self, value: Any) -> Any:
        if self.kind == "sqlite":
            return json.dumps(value)
        from psycopg.types.json import Json

        return Json(value)

    def rows(self, text: str, params: Any = ()) -> list[Any]:
        cur = self.conn.cursor()
        try:
            cur.execute(self.sql(text), self._params(params))
            return cur.fetchall()
        finally:
            cur.close()

    def run(self, text: str, params: Any = ()) -> None:
        cur = self.conn.cursor()
        try:
            cur.execute(self.sql(text), self._params(params))
        finally:
            cur.close()

    def many(self, text: str, seq: list[Any]) -> None:
        cur = self.conn.cursor()
        try:
            cur.executemany(self.sql(text), seq)
        finally:
            cur.close()

    @contextmanager
    def txn(self) -> Iterator[None]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, as the engine's writers)."""
        if self.kind == "postgresql":
            with self.conn.transaction():
                yield
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def copy_out(self, query: str) -> bytes:
        with self.conn.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT") as cp:
            return b"".join(bytes(chunk) for chunk in cp)

    def copy_in(self, table: str, data: bytes) -> None:
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as cp:
            cp.write(data)

    def close(self) -> None:
        self.conn.close()
