"""What every subcommand shares: the database, the runtime, output and errors."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from duban.bootstrap import build_engine, build_runtime
from duban.engine.access.actors import OPERATOR, Actor, actor_for
from duban.engine.errors import DubanError
from duban.engine.runtime import Runtime
from duban.engine.store.db import read_session, write_session
from duban.settings import Settings

err = Console(stderr=True)
JSON = typer.Option(False, "--json", help="Print one JSON document and nothing else.")
BY = typer.Option(None, "--by", help="Act as this account (default: the operator).")
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Context:
    """The global options, and what is built from them on first use."""

    db_url: str | None
    now: datetime | None
    _settings: Settings | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)
    _runtime: Runtime | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings()
            if self.db_url:
                self._settings.database_url = self.db_url
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = build_engine(self.settings)
        return self._engine

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = build_runtime(self.settings, self.now)
        return self._runtime

    @contextmanager
    def write(self) -> Iterator[Session]:
        with write_session(self.engine) as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with read_session(self.engine) as session:
            yield session


def acting(session: Session, by: str | None) -> Actor:
    """The account named by --by, or the operator."""
    return actor_for(session, by) if by else OPERATOR


def ctx_of(typer_ctx: typer.Context) -> Context:
    obj = typer_ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


# Terminal controls (ESC starts a cursor or colour sequence, BEL rings) and the bidi overrides that
# make text read backwards: data shows them as \x1b, \u202e, never acts on them.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape_control(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def plain(value: object) -> str:
    """Data as text safe to print on a terminal: every control character shown as its escape."""
    return _CONTROLS.sub(_escape_control, str(value))


def shown(value: object) -> str:
    """Data for a Rich table or an f-string printed by Rich: controls escaped, and [markup] printed as typed."""
    return escape(plain(value))


def fail(message: str, code: int = 1) -> NoReturn:
    sys.stderr.write(f"error: {plain(message)}\n")
    raise typer.Exit(code)


def refusals(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn duban's refusals into a message on stderr and exit status 1."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except DubanError as exc:
            # Plain text, never wrapped: scripts grep these lines for FILE:LINE: field.
            sep = "\n" if "\n" in exc.message else " "
            sys.stderr.write(f"refused:{sep}{plain(exc.message)}\n")
            raise typer.Exit(1) from None
        except OperationalError as exc:
            # A database that went away or stayed locked: one line, never a traceback.
            first = (
                str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc).strip() else "unknown"
            )
            sys.stderr.write(f"error: the database failed: {plain(first)}\n")
            raise typer.Exit(1) from None

    return wrapper


def parse_instant(text: str, option: str) -> datetime:
    """An ISO-8601 instant with its offset (a date alone means local midnight is ambiguous: refused)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {text!r} is not an ISO-8601 time such as 2026-03-11T09:00+08:00", code=2)
    if value.tzinfo is None:
        fail(f"{option}: {text!r} needs an offset, e.g. 2026-03-11T09:00+08:00", code=2)
    return value


def parse_json_object(text: str | None, option: str) -> dict[str, Any] | None:
    """A JSON object given on the command line, or None when the option was not given."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{option}: bad JSON ({exc.msg} at character {exc.pos + 1})")
    if not isinstance(value, dict):
        fail(f"{option}: must be a JSON object")
    return value


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback (done, total) drawing a bar on a terminal; None when piped or --json."""
    if not enabled or not err.is_terminal:
        yield None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
