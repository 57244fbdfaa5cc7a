"""The HTTP bench's baseline: a bare Starlette route serving the to-do query straight on the driver.

No FastAPI, no auth, no pydantic, no SQLAlchemy: the SQL `engine.tasks.todo` sends (the same
columns, WHERE, ORDER BY, LIMIT and the count) on sqlite3 or psycopg, and the same JSON document.
The handler is a plain `def`, so Starlette runs it in its thread pool as FastAPI runs the engine's
route, on as many threads as the engine's app is given; each pool thread keeps one driver connection.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from duban.api.app import thread_pool
from duban.engine.store.db import BUSY_TIMEOUT_MS, normalize_url

PAGE_SQL = """SELECT task.id, task.assignment_id, task.subject, task.period, task.state, task.due_at, task.overdue_at,
 task.escalation_level, task.next_action_at, task.progress, task.target, task.calendar_provisional,
 unit.code AS unit_code, unit.name AS unit_name, assignment.def_id, definition_version.title,
 task.progress_own, task.progress_children
FROM task JOIN unit ON unit.id = task.unit_id JOIN assignment ON assignment.id = task.assignment_id
 JOIN definition_version ON definition_version.id = task.definition_version_id
WHERE task.unit_id = ? AND task.state IN ('open', 'submitted') ORDER BY task.due_at, task.id LIMIT ? OFFSET ?"""
COUNT_SQL = "SELECT count(*) FROM task WHERE task.unit_id = ? AND task.state IN ('open', 'submitted')"


class Driver:
    """One driver connection per thread, opened on first use."""

    def __init__(self, url: str) -> None:
        parsed = make_url(normalize_url(url))
        self.sqlite = parsed.get_backend_name() == "sqlite"
        self.target = (
            parsed.database
            if self.sqlite
            else parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self.local = threading.local()

    def connection(self) -> Any:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            if self.sqlite:
                conn = sqlite3.connect(
                    self.target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL")
            else:
                import psycopg

                conn = psycopg.connect(self.target)
            self.local.conn = conn
        return conn

    def sql(self, text: str) -> str:
        return text if self.sqlite else text.replace("?", "%s")

    def page(self, unit_id: int, limit: int, offset: int) -> tuple[int, list[Any]]:
        """The page and the count in one read transaction, as the engine's session reads them."""
        conn = self.connection()
        cur = conn.cursor()
        try:
            if self.sqlite:
                cur.execute("BEGIN")
            cur.execute(self.sql(PAGE_SQL), (unit_id, limit, offset))
            rows = cur.fetchall()
            cur.execute(self.sql(COUNT_SQL), (unit_id,))
            total = cur.fetchone()[0]
        finally:
            cur.close()
            conn.rollback()
        return total, rows


def _instant(value: Any, tz: tzinfo) -> str | None:
    """A stored instant in the caller's zone (SQLite keeps naive UTC text, PostgreSQL an aware datetime)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.astimezone(tz).isoformat()


def _item(r: Any, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": r[0],
        "definition_id": r[14],
        "assignment_id": r[1],
        "unit_code": r[12],
        "unit_name": r[13],
        "subject": r[2] or None,
        "period": r[3] or None,
        "state": r[4],
        "due_at": _instant(r[5], tz),
        "overdue_at": _instant(r[6], tz),
        "escalation_level": r[7],
        "next_action_at": _instant(r[8], tz),
        "progress": r[9],
        "progress_own": r[16],
        "progress_children": r[17],
        "target": r[10],
        "calendar_provisional": bool(r[11]),
        "title": r[15],
    }


def bare_app(url: str, unit_id: int, tz: tzinfo, threads: int) -> Starlette:
    """The baseline app: `GET /api/v1/tasks` answers one unit's to-do page (`limit`, `offset`), on `threads` threads."""
    driver = Driver(url)

    def todo(request: Request) -> JSONResponse:
        limit = int(request.query_params.get("limit", 50))
        offset = int(request.query_params.get("offset", 0))
        total, rows = driver.page(unit_id, limit, offset)
        return JSONResponse(
            {"total": total, "limit": limit, "offset": offset, "items": [_item(r, tz) for r in rows]}
        )

    return Starlette(routes=[Route("/api/v1/tasks", todo)], lifespan=thread_pool(threads))
