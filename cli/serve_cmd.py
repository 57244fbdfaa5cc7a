"""`duban serve`: the HTTP API and web UI under uvicorn, with the embedded scheduler unless told not to."""

from __future__ import annotations

import typer

from duban.cli.context import Context, ctx_of


def run_server(context: Context, host: str, port: int, *, scheduler: bool) -> None:
    """Serve the app on host:port; with `scheduler`, sweep and deliver in this process too."""
    import uvicorn

    from duban.api.app import create_app

    settings = context.settings
    # uvicorn would believe X-Forwarded-For from loopback; the app decides whom to believe
    # (DUBAN_TRUSTED_PROXIES), so sign-in throttling counts the real client.
    app_ = create_app(settings, engine=context.engine, runtime=context.runtime)
    running = None
    if scheduler:
        from duban.flows import schedule

        runtime = context.runtime
        running = schedule.start_scheduler(context.engine, settings, lambda: runtime)
    try:
        uvicorn.run(app_, host=host, port=port, log_level="info", proxy_headers=False)
    finally:
        if running is not None:
            running.shutdown(wait=False)


def register(app: typer.Typer) -> None:
    """Add the `serve` command to the CLI."""

    @app.command("serve")
    def serve(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(8000, "--port", help="Port to listen on."),
        no_scheduler: bool = typer.Option(
            False, "--no-scheduler", help="Do not run the sweep and delivery in this process."
        ),
    ) -> None:
        """Serve the HTTP API (/api/v1, /openapi.json) and the web UI."""
        run_server(ctx_of(ctx), host, port, scheduler=not no_scheduler)
