"""What every subcommand shares: the database, the runtime, output and errors."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from functools import wraps
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from duban.engine.errors import DubanError

if TYPE_CHECKING:  # the database stack loads when a command first touches the database, not for --help
    from sqlalchemy import Engine
    from sqlmodel import Session

    from duban.engine.access.actors import Actor
    from duban.engine.runtime import Runtime
    from duban.settings import Settings

# Piped or redirected output is never wrapped or cut at 80 columns: a table is as wide as its longest cell.
_WIDE = 100_000
err = Console(stderr=True, width=None if sys.stderr.isatty() else _WIDE)
out = Console(width=None if sys.stdout.isatty() else _WIDE)
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
            from duban.settings import Settings

            self._settings = Settings()
            if self.db_url:
                self._settings.database_url = self.db_url
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from duban.bootstrap import build_engine

            check_database_url(self.settings.database_url)
            self._engine = build_engine(self.settings)
        return self._engine

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            from duban.bootstrap import build_runtime

            self._runtime = build_runtime(self.settings, self.now)
        return self._runtime

    @contextmanager
    def write(self) -> Iterator[Session]:
        from duban.engine.store.db import write_session

        with write_session(self.engine) as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        from duban.engine.store.db import read_session

        with read_session(self.engine) as session:
            yield session


def check_database_url(url: str) -> None:
    """Refuse, in one line, a database URL duban cannot use before anything tries to connect."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        fail(f"{url!r} is not a database URL; use sqlite:///duban.db or postgresql://user@host/database")
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        fail(
            f"{backend} databases are not supported; duban runs on SQLite (sqlite:///duban.db) "
            "or PostgreSQL (postgresql://user@host/database)"
        )
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        from pathlib import Path

        folder = Path(parsed.database).expanduser().absolute().parent
        if not folder.is_dir():
            fail(
                f"the folder {folder} of the SQLite file does not exist: create it (mkdir -p {folder}) or use another --db"
            )


def database_trouble(exc: BaseException) -> str | None:
    """One line saying what to do about a database that cannot be used, or None for any other failure."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    if not isinstance(exc, OperationalError | InterfaceError):
        return None
    text = str(exc.orig) if exc.orig is not None else str(exc)
    missing = re.search(r'database "([^"]+)" does not exist', text)
    if missing:
        name = missing.group(1)
        return (
            f"the PostgreSQL database {name} does not exist: create it (createdb {name}), then run duban init"
        )
    if "unable to open database file" in text:
        return "the SQLite file cannot be opened: check that its folder exists and is writable"
    if "password authentication failed" in text or ("role" in text and "does not exist" in text):
        return f"the database refused the user or password in the URL ({text.splitlines()[-1].strip()})"
    if "Connection refused" in text or "could not connect" in text or "connection failed" in text:
        return "cannot reach the database server: is PostgreSQL running, and are the host and port in the URL right?"
    return (
        f"the database failed: {plain(text.strip().splitlines()[0]) if text.strip() else type(exc).__name__}"
    )


def acting(session: Session, by: str | None) -> Actor:
    """The account named by --by, or the operator."""
    from duban.engine.access.actors import OPERATOR, actor_for

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
        except Exception as exc:
            trouble = database_trouble(exc)
            if trouble is None:
                raise
            fail(trouble)

    return wrapper


def parse_instant(text: str, option: str) -> datetime:
    """An ISO-8601 instant with its offset (a date alone means local midnight is ambiguous: refused)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {text!r} is not an ISO-8601 time such as 2026-03-11T09:00+08:00", code=2)
    if value.tzinfo is None:
        fail(f"{option}: {text!r} needs an offset, e.g. 2026-03-11T09:00+08:00", code=2)
    from duban.engine.time.bounds import year_problem

    if (problem := year_problem(value)) is not None:
        fail(f"{option}: {problem}", code=2)
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


_active: list[Context] = []  # the running command's context (one per process run of the CLI)


def activate(context: Context) -> Context:
    """Make `context` the one whose settings --json output follows (the CLI's root callback calls this)."""
    _active[:] = [context]
    return context


def _zone() -> tzinfo | None:
    """The deployment's zone, when a command of this CLI is running."""
    if not _active:
        return None
    from zoneinfo import ZoneInfo

    return ZoneInfo(_active[0].settings.timezone)


def json_value(value: Any, zone: tzinfo | None = None) -> Any:
    """What JSON cannot hold as is: an instant in the deployment's zone with its offset, a date as ISO."""
    if isinstance(value, datetime):
        if value.tzinfo is not None and zone is not None:
            value = value.astimezone(zone)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# An instant written as text with its offset (what the services' JSON holds): shown again in the zone.
_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)")


def in_zone(value: Any, zone: tzinfo) -> Any:
    """The document with every instant, object or ISO text, in `zone` (the same instant, its local offset)."""
    if isinstance(value, dict):
        return {k: in_zone(v, zone) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [in_zone(v, zone) for v in value]
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(zone)
    if isinstance(value, str) and _INSTANT.fullmatch(value):
        return datetime.fromisoformat(value).astimezone(zone).isoformat()
    return value


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout; instants in the deployment's zone, never UTC."""
    zone = _zone()
    if zone is not None:
        document = in_zone(document, zone)
    text = json.dumps(document, ensure_ascii=False, indent=2, default=lambda v: json_value(v, zone))
    sys.stdout.write(text + "\n")


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback (done, total) drawing a bar on a terminal; None when piped or --json."""
    if not enabled or not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
