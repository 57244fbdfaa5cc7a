"""The server's log lines: text for a person at a terminal, or JSON lines for a log collector.

`DUBAN_LOG_FORMAT=json` (or `duban serve --log-format json`) writes one JSON object per line with
`time`, `level`, `logger`, `message` and, while a request is being handled, its `request_id`;
the access line of each request adds `method`, `path`, `status` and `duration_ms`. The request id
lives in a context variable set by the request layer (`api/middleware.py`), so every line logged
while a request is handled carries it, from the worker threads too (they run in a copy of the
request's context).

No line carries a credential: the access line names the path without its query string, headers
are never logged, and anything that looks like a bearer token, a password field or a session
cookie in a message is masked before it is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

FORMATS = ("text", "json")
request_id: ContextVar[str | None] = ContextVar("duban_request_id", default=None)
TEXT = "%(asctime)s %(levelname)s %(name)s [%(process)d]%(rid)s %(message)s"
# Loggers the server writes through: its own, uvicorn's start-up and error lines, and the
# scheduler library's warnings (a skipped run); its line per job run would repeat the app's own.
LOGGERS = {"duban": None, "uvicorn": None, "uvicorn.error": None, "apscheduler": logging.WARNING}
# What a request's access line adds as fields of its own in the JSON form.
FIELDS = ("method", "path", "status", "duration_ms")
_SECRETS = re.compile(
    r"(?i)(bearer\s+|duban_session=|(?:password|new_password|old_password|access_token|token)"
    r"[\"']?\s*[:=]\s*[\"']?)[^\s\"'&;,]+"
)


def mask(text: str) -> str:
    """`text` with what looks like a token, a password or a session cookie replaced by `***`."""
    return _SECRETS.sub(r"\1***", text)


class _Masked(logging.Formatter):
    def formatException(self, ei: Any) -> str:
        return mask(super().formatException(ei))


class TextFormatter(_Masked):
    """`time LEVEL logger [pid] [request id] message`."""

    def __init__(self) -> None:
        super().__init__(TEXT)

    def format(self, record: logging.LogRecord) -> str:
        rid = request_id.get()
        record.rid = f" [{rid}]" if rid else ""
        return mask(super().format(record))


class JsonFormatter(_Masked):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask(record.getMessage()),
            "pid": record.process,
        }
        rid = request_id.get()
        if rid:
            doc["request_id"] = rid
        for name in FIELDS:
            if name in record.__dict__:
                doc[name] = record.__dict__[name]
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def formatter(fmt: str) -> logging.Formatter:
    """The formatter of `fmt` ("text" or "json")."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: one of {', '.join(FORMATS)}")
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure(fmt: str = "text", stream: IO[str] | None = None, level: int = logging.INFO) -> logging.Handler:
    """Send the server's loggers to `stream` (stderr) in `fmt`; replaces what an earlier call set up."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.set_name("duban")
    for name, own in LOGGERS.items():
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == "duban"]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(max(level, own or level))
        logger.propagate = False
    return handler
