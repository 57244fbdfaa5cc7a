"""The bench's report: one figure per measure (`measurement`), and the table a person reads.

Every figure is a ratio `seconds / baseline_seconds` held to a bar (`ratio <= bar`), so a
noisy machine moves both sides alike.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def measurement(
    name: str,
    seconds: float,
    baseline: str,
    baseline_seconds: float,
    bar: float | None,
    never_above: float | None = None,
    **details: Any,
) -> dict[str, Any]:
    """One figure: the engine path against its baseline, `ratio <= bar` to pass."""
    ratio = seconds / baseline_seconds if baseline_seconds > 0 else None
    ok = True if bar is None or ratio is None else ratio <= bar
    doc = {
        "name": name,
        "seconds": round(seconds, 6),
        "baseline": baseline,
        "baseline_seconds": round(baseline_seconds, 6),
        "ratio": round(ratio, 4) if ratio is not None else None,
        "bar": bar,
        "never_above": never_above,
        "pass": ok,
        **details,
    }
    if never_above is not None and ratio is not None:
        doc["within_never_above"] = ratio <= never_above
    return doc


def _dashboard_line(m: dict[str, Any]) -> str:
    fan, sweep = m["fanout_overhead"], m["sweep_overhead"]
    year, escalated = m["of_a_period"], m["with_escalated"]
    return (
        f"dashboard: the province's report from {m['count_rows']} count rows is {m['faster_by']}x faster than "
        f"scanning its {m['tasks_in_subtree']} tasks (goal ≥ 20x); same report: {m['same_report']}; "
        f"of {year['period']}: {year['counts_seconds'] * 1000:.1f} ms against {year['scan_seconds'] * 1000:.1f} ms; "
        f"with {escalated['escalated']} tasks escalated: {escalated['counts_seconds'] * 1000:.1f} ms against "
        f"{escalated['scan_seconds'] * 1000:.1f} ms; keeping the counts costs the fan-out {fan['overhead']:.1%} "
        f"and a sweep whose every task escalates {sweep['overhead']:.1%} (goal ≤ 10% each)"
    )


def _http_line(m: dict[str, Any]) -> str:
    rounds = "; ".join(
        f"{r['workers']} ({r['sockets']}): {r['engine']['throughput_rps']} req/s, p50 {r['engine']['p50_ms']} ms, "
        f"p95 {r['engine']['p95_ms']} ms (bare {r['bare']['throughput_rps']} req/s, p95 {r['bare']['p95_ms']} ms)"
        for r in m["by_workers"]
    )
    return f"http by server processes ({m['cores']} cores, shared with the load): {rounds}"


# Further lines of a figure, by name, printed after the table.
LINES = {"dashboard": _dashboard_line, "http": _http_line}


def _further_lines(doc: dict[str, Any], out: Console) -> None:
    for m in doc["measurements"]:
        if m["name"] in LINES:
            out.print(LINES[m["name"]](m))


def render(doc: dict[str, Any], out: Console) -> None:
    """The human report: the table of figures, then what each figure holds besides its ratio."""
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
    _further_lines(doc, out)
    mem = doc.get("fanout_memory")
    if mem:
        out.print(
            f"fan-out peak memory: city {mem['city']['tasks']} tasks {mem['city']['peak_bytes'] / 1e6:.2f} MB, "
            f"province {mem['province']['tasks']} tasks {mem['province']['peak_bytes'] / 1e6:.2f} MB"
        )
