"""Connecting to the database: SQLite (WAL, foreign keys, busy timeout) or PostgreSQL.

On SQLite a write transaction starts with BEGIN IMMEDIATE, so two writers queue
on the busy timeout instead of failing when a reader upgrades to a writer; reads
start a deferred transaction and run beside a writer (WAL). Holding the write lock
from its first statement means a write transaction can only meet a lock at its
BEGIN, before any of its work ran: so that BEGIN alone is retried, with backoff,
until LOCK_WAIT_SECONDS have passed, and then refused with one line (DatabaseBusy),
never a traceback. A transaction that meets the lock later (a lock error raised inside it) can be
run again whole by `retry_locked`, under the same budget.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from duban.engine.errors import DatabaseBusy

BUSY_TIMEOUT_MS = 30_000
# How long a writer keeps trying to start behind another (a long import, a big sweep batch).
LOCK_WAIT_SECONDS = 300.0
T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Accept postgresql:// URLs and route them through psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An Engine for `url`, with duban's connection settings applied."""
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}, **kwargs
        )
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN, so writes can ask for IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("duban_write"):
            _begin_immediate(conn.connection.driver_connection)
        else:
            conn.exec_driver_sql("BEGIN DEFERRED")


def _is_lock(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _waiting_out_locks(attempt: Callable[[], T], lock_error: Callable[[BaseException], bool]) -> T:
    """Run `attempt` until it does not fail on a lock: each try waits the busy timeout, then backs off.

    After LOCK_WAIT_SECONDS of trying, DatabaseBusy (one line, no traceback).
    """
    started = time.monotonic()
    pause = 0.05
    while True:
        try:
            return attempt()
        except Exception as exc:
            if not lock_error(exc):
                raise
            waited = time.monotonic() - started
            if waited >= LOCK_WAIT_SECONDS:
                raise DatabaseBusy(waited) from None
        # Real time on purpose: this waits for another process, not for the domain clock.
        time.sleep(pause)
        pause = min(pause * 2, 2.0)


def _begin_immediate(raw: sqlite3.Connection) -> None:
    """Take the write lock, waiting out another writer."""
    _waiting_out_locks(
        lambda: raw.execute("BEGIN IMMEDIATE"),
        lambda exc: isinstance(exc, sqlite3.OperationalError) and _is_lock(exc),
    )


def is_sqlite(bind: Engine | Connection | Session) -> bool:
    """Whether `bind` talks to SQLite."""
    if isinstance(bind, Session):
        bind = bind.get_bind()
    return bind.dialect.name == "sqlite"


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on any error."""
    with engine.connect() as conn:
        conn = conn.execution_options(duban_write=True)
        with Session(bind=conn) as session, conn.begin():
            yield session
            session.flush()


def retry_locked(engine: Engine, work: Callable[[Session], T]) -> T:
    """Run `work` in a write transaction; one that fails on a database lock is rolled back and run again."""

    def attempt() -> T:
        with write_session(engine) as session:
            return work(session)

    return _waiting_out_locks(attempt, lambda exc: isinstance(exc, OperationalError) and _is_lock(exc.orig))


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reading only."""
    with Session(bind=engine) as session:
        yield session


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL, if any."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database)
    return None
