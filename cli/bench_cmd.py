"""`duban bench`: the benchmarks of DESIGN.md "Performance", each path against its bare baseline."""

from __future__ import annotations

import importlib.util
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from duban.bench import MEASURES, BenchOptions, run_bench
from duban.cli.context import ctx_of, emit_json, err, fail, refusals

out = Console()
# The HTTP figure needs the API and the Prefect one Prefect, so they are supplied here rather than by the engine.
ALL = (*MEASURES, "http", "prefect")


def _prefect_installed() -> bool:
    return importlib.util.find_spec("prefect") is not None


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
    json: bool = typer.Option(False, "--json", help="Print one JSON document and nothing else."),
) -> None:
    """Measure fan-out, sweep, roll-up, delivery and HTTP against bare baselines on a fresh province-sized tree."""
    from duban.bench import http as bench_http  # the API stack loads only when the bench runs

    c = ctx_of(ctx)
    chosen = frozenset(x.strip() for x in only.split(",") if x.strip()) if only else None
    if chosen is not None and chosen - set(ALL):
        fail(f"--only: unknown {', '.join(sorted(chosen - set(ALL)))}; one of {', '.join(ALL)}", code=2)
    with tempfile.TemporaryDirectory(prefix="duban-bench-") as tmp:
        extra: dict[str, Any] = {"http": partial(bench_http.measure, requests=http_requests)}
        if _prefect_installed():
            from duban.bench import prefect_flow as flow_bench

            extra["prefect"] = flow_bench.measure
        elif chosen and "prefect" in chosen:
            fail("--only prefect: Prefect is not installed (pip install 'duban[prefect]')", code=2)
        opts = BenchOptions(
            workdir=workdir or Path(tmp),
            units=units,
            url=c.db_url,
            only=chosen,
            repeat=repeat,
            due_actions=due_actions,
            analyze=analyze,
            extra=extra,
            extra_sweeping=frozenset({"prefect"}),
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
    _print(doc)


def _print(doc: dict) -> None:
    imp = doc["import"]
    out.print(
        f"{doc['database']}, {doc['units']} units "
        f"({', '.join(f'{k} {v}' for k, v in doc['tree'].items())}); import {imp['seconds']} s "
        f"({imp['units_per_second']}/s); {doc['tasks_in_table']} tasks at the end"
    )
    table = Table("path", "seconds", "baseline s", "ratio", "bar", "result", "baseline")
    for m in doc["measurements"]:
        bar = "—" if m["bar"] is None else f"≤ {m['bar']:.3g}"
        ok = "[green]pass[/]" if m["pass"] else "[red]FAIL[/]"
        if not m["pass"] and m.get("p95_pass") is False and m["ratio"] is not None and m["ratio"] <= m["bar"]:
            ok = "[red]FAIL[/] (p95)"  # the ratio is within its bar; the absolute latency bar is not
        table.add_row(
            m["name"],
            f"{m['seconds']:.4f}",
            f"{m['baseline_seconds']:.4f}",
            "—" if m["ratio"] is None else f"{m['ratio']:.3f}",
            bar,
            ok,
            m["baseline"],
        )
    out.print(table)
    for m in doc["measurements"]:
        if m["name"] == "sweep_idle":
            out.print(
                f"idle sweep plan: {' | '.join(m['explain']['plan'])} (index used: {m['explain']['uses_index']})"
            )
        if m["name"] == "sweep_concurrent":
            out.print(
                f"two sweeps: duplicates {m['duplicates']}, missed {m['missed']}, errors {len(m['errors'])}, "
                f"throughput {m['throughput_vs_one']}x one sweep"
            )
        if m["name"] == "rollup":
            out.print(f"roll-up vs the same three queries by hand: {m['ratio_vs_same_three_queries']}x")
        if m["name"] == "rollup_cte":
            sub = m["subtree"]
            out.print(
                f"recursive CTE report takes {m['cte_slower_by']}x the roll-up's time; finding the subtree, "
                f"the CTE takes {sub['cte_slower_by']}x the path range's (no bar: see docs/performance.md)"
            )
        if m["name"] == "http":
            for side, label in (("engine", "engine route"), ("bare", "bare route")):
                r = m[side]
                out.print(
                    f"http {label}: {r['throughput_rps']} req/s, p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms "
                    f"({r['requests']} requests, {m['clients']} clients)"
                )
            out.print(
                f"http: {m['throughput_vs_bare']}x the bare route's throughput (bar: ≥ 0.5x); p95 "
                f"{'under' if m['p95_pass'] else 'NOT under'} {m['p95_bar_ms']} ms; page of {m['page_items']} "
                f"({m['page_total']} in all), same ids as the bare route: {m['page_ids_match']}"
            )
        if m["name"] == "prefect":
            out.print(
                f"prefect: a sweep flow run took {m['flow_seconds']:.3f} s, {m['fixed_seconds']} s of it the fixed "
                f"cost of a flow run (bar: ≤ {m['fixed_bar_seconds']} s); the rest is {m['ratio']}x the bare "
                f"sweep (bar: ≤ {m['bar']}x)"
            )
    mem = doc.get("fanout_memory")
    if mem:
        out.print(
            f"fan-out peak memory: city {mem['city']['tasks']} tasks {mem['city']['peak_bytes'] / 1e6:.2f} MB, "
            f"province {mem['province']['tasks']} tasks {mem['province']['peak_bytes'] / 1e6:.2f} MB"
        )
