"""`duban bench`: the benchmarks of DESIGN.md "Performance", each path against its bare baseline."""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import typer

from duban.cli.context import ctx_of, emit_json, err, fail, refusals

# Named here, not imported: the bench (and the API and Prefect it drives) loads only when it runs.
ALL = (
    "fanout",
    "fanout_rules",
    "fanout_memory",
    "sweep_idle",
    "sweep_due",
    "sweep_concurrent",
    "rollup",
    "rollup_cte",
    "dashboard",
    "delivery",
    "http",
    "prefect",
    "assess",
    "figures",
)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)


@refusals
def bench(
    ctx: typer.Context,
    units: int = typer.Option(215_000, "--units", min=10, help="Units in the province-shaped tree."),
    only: str = typer.Option(None, "--only", help=f"Comma-separated subset of: {', '.join(ALL)}."),
    repeat: int = typer.Option(3, "--repeat", min=1, help="Best of this many runs where a run is cheap."),
    due_actions: int = typer.Option(
        100_000, "--due-actions", min=1, help="Due actions for the sweep benchmark."
    ),
    workdir: Path = typer.Option(
        None, "--workdir", help="Where the CSV and SQLite files go [default: a temp dir]."
    ),
    analyze: bool = typer.Option(
        True,
        "--analyze/--no-analyze",
        help="PostgreSQL: ANALYZE after the import and before the roll-up, VACUUM ANALYZE before the idle sweep, as autovacuum would.",
    ),
    http_requests: int = typer.Option(
        3000, "--http-requests", min=1, help="Requests per side and run of the HTTP benchmark."
    ),
    http_workers: int = typer.Option(
        0,
        "--http-workers",
        min=0,
        help="The HTTP benchmark runs at 1, 2 and this many server processes [default: the machine's cores].",
    ),
    json: bool = typer.Option(False, "--json", help="Print one JSON document and nothing else."),
) -> None:
    """Measure fan-out, sweep, roll-up, delivery and HTTP against bare baselines on a fresh province-sized tree."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from duban.bench.report import render
    from duban.bench.run import run_bench
    from duban.bench.world import BenchOptions

    c = ctx_of(ctx)
    chosen = frozenset(x.strip() for x in only.split(",") if x.strip()) if only else None
    if chosen is not None and chosen - set(ALL):
        fail(f"--only: unknown {', '.join(sorted(chosen - set(ALL)))}; one of {', '.join(ALL)}", code=2)
    with tempfile.TemporaryDirectory(prefix="duban-bench-") as tmp:
        if chosen and "prefect" in chosen and importlib.util.find_spec("prefect") is None:
            fail("--only prefect: Prefect is not installed (pip install 'duban[prefect]')", code=2)
        opts = BenchOptions(
            workdir=workdir or Path(tmp),
            units=units,
            url=c.db_url,
            only=chosen,
            repeat=repeat,
            due_actions=due_actions,
            analyze=analyze,
            http_requests=http_requests,
            http_workers=http_workers,
        )
        if json or not err.is_terminal:
            doc = run_bench(opts)
        else:
            columns = [
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            ]
            with Progress(*columns, console=err, transient=True) as bar:
                task = bar.add_task("bench", total=None)
                doc = run_bench(
                    opts,
                    lambda label, done, total: bar.update(
                        task, description=label, completed=done, total=total
                    ),
                )
    if json:
        emit_json(doc)
        return
    render(doc, Console())
