"""`duban serve`: the HTTP API and web UI under uvicorn, with the embedded scheduler unless told not to.

With `--workers N` (N > 1) uvicorn runs N worker processes on one socket; each builds the app
from the environment (`worker_app`), and the scheduler runs here, in the parent, so it runs once
whatever N. The global --db and --now reach the workers through DUBAN_DATABASE_URL and
DUBAN_SERVE_NOW.
"""

from __future__ import annotations

import os
from datetime import datetime
from enum import StrEnum
from typing import Any

import typer

from duban import logs
from duban.cli.context import Context, ctx_of, fail

NOW_VARIABLE = "DUBAN_SERVE_NOW"
# uvicorn logs through the handlers `duban.logs` set up, and leaves the access line to the app (no query strings).
QUIET_UVICORN: dict[str, Any] = {"log_level": "info", "log_config": None, "access_log": False}


def worker_app() -> Any:
    """The app of one worker process: settings from the environment, the clock pinned if --now was given."""
    from duban.api.app import create_app
    from duban.bootstrap import build_runtime
    from duban.settings import Settings

    settings = Settings()
    logs.configure(settings.log_format)
    pinned = os.environ.get(NOW_VARIABLE)
    now = datetime.fromisoformat(pinned) if pinned else None
    return create_app(settings, runtime=build_runtime(settings, now))


def run_server(
    context: Context,
    host: str,
    port: int,
    *,
    scheduler: bool,
    workers: int = 1,
    log_format: str | None = None,
) -> None:
    """Serve the app on host:port; with `scheduler`, sweep and deliver in this process too.

    uvicorn would believe X-Forwarded-For from loopback; the app decides whom to believe
    (DUBAN_TRUSTED_PROXIES), so sign-in throttling counts the real client.
    """
    import uvicorn

    settings = context.settings
    try:
        settings.check_secrets()
    except ValueError as exc:  # refused before anything starts: one line, no traceback
        fail(str(exc))
    if log_format is not None:
        os.environ["DUBAN_LOG_FORMAT"] = log_format  # the workers read their settings from the environment
    logs.configure(log_format or settings.log_format)
    running = None
    if scheduler:
        from duban.flows import schedule

        runtime = context.runtime
        running = schedule.start_scheduler(context.engine, settings, lambda: runtime)
    try:
        if workers > 1:
            os.environ["DUBAN_DATABASE_URL"] = settings.database_url
            if context.now is not None:
                os.environ[NOW_VARIABLE] = context.now.isoformat()
            uvicorn.run(
                "duban.cli.serve_cmd:worker_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                proxy_headers=False,
                **QUIET_UVICORN,
            )
        else:
            from duban.api.app import create_app

            app_ = create_app(settings, engine=context.engine, runtime=context.runtime)
            uvicorn.run(
                app_,
                host=host,
                port=port,
                proxy_headers=False,
                **QUIET_UVICORN,
            )
    finally:
        if running is not None:
            running.shutdown(wait=False)


class LogFormat(StrEnum):
    text = "text"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add the `serve` command to the CLI."""

    @app.command("serve")
    def serve(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(8000, "--port", help="Port to listen on."),
        workers: int = typer.Option(
            1,
            "--workers",
            min=1,
            max=64,
            help="Server processes; the scheduler still runs once, in this one.",
        ),
        no_scheduler: bool = typer.Option(
            False, "--no-scheduler", help="Do not run the sweep and delivery in this process."
        ),
        log_format: LogFormat = typer.Option(
            None, "--log-format", help="text, or json: one JSON object per line (default DUBAN_LOG_FORMAT)."
        ),
    ) -> None:
        """Serve the HTTP API (/api/v1, /openapi.json) and the web UI."""
        fmt = log_format.value if log_format is not None else None
        run_server(ctx_of(ctx), host, port, scheduler=not no_scheduler, workers=workers, log_format=fmt)
