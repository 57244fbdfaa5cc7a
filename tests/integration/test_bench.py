"""`duban bench` at a tiny size: the document's shape and zero duplicates; no timing assertions (machines are noisy)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
import typer
from sqlalchemy import make_url
from typer.testing import CliRunner

from duban.bench import MEASURES, tree_shape
from duban.cli import bench_cmd
from duban.cli.context import Context
from duban.engine.store.db import make_engine

PG_URL = os.environ.get("DUBAN_TEST_POSTGRES_URL")


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context, db: str = typer.Option(None, "--db")) -> None:
        ctx.obj = Context(db_url=db, now=None)

    bench_cmd.register(app)
    return app


def _run(tmp_path: Path, *args: str) -> dict:
    result = CliRunner().invoke(
        _app(),
        [
            *args,
            "bench",
            "--units",
            "3000",
            "--repeat",
            "1",
            "--http-requests",
            "200",
            "--workdir",
            str(tmp_path / "work"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _check(doc: dict, database: str) -> None:
    assert doc["database"] == database
    assert doc["units"] == 3000
    assert sum(doc["tree"].values()) == 3000
    assert doc["import"]["created"] == 3000
    by_name = {m["name"]: m for m in doc["measurements"]}
    assert set(by_name) == set(MEASURES) - {"fanout_memory"} | {"http", "prefect"}
    for m in doc["measurements"]:
        for key in ("seconds", "baseline", "baseline_seconds", "ratio", "bar", "pass"):
            assert key in m, (m["name"], key)
        assert m["seconds"] > 0 and m["baseline_seconds"] > 0
    grassroots = doc["tree"]["grassroots"]
    assert by_name["fanout"]["tasks"] == grassroots
    # bench/tree.py: grassroots i is tagged by i % 4 (enterprise+non_public, institution, community,
    # enterprise) with 20 + i % 400 members; the rules keep institution or enterprise, not non_public,
    # 100 members or more, under a county.
    kept = sum(1 for i in range(grassroots) if i % 4 in (1, 3) and 20 + i % 400 >= 100)
    assert 0 < by_name["fanout_rules"]["tasks"] == kept < grassroots
    assert by_name["sweep_idle"]["explain"]["plan"]
    if database == "sqlite":  # PostgreSQL may rightly prefer a sequential scan of a table this small
        assert by_name["sweep_idle"]["explain"]["uses_index"] is True
    assert by_name["sweep_due"]["reminders_sent"] == by_name["sweep_due"]["due_actions"] == grassroots
    concurrent = by_name["sweep_concurrent"]
    assert concurrent["duplicates"] == 0
    assert concurrent["missed"] == 0
    assert concurrent["errors"] == []
    assert sum(concurrent["tasks_touched"]) == grassroots
    assert by_name["delivery"]["notices_delivered"] == by_name["delivery"]["outbox_rows"]
    assert by_name["rollup"]["children"] == doc["tree"]["municipal"]
    dashboard = by_name["dashboard"]
    assert dashboard["same_report"] and dashboard["of_a_period"]["same_report"]
    assert dashboard["sweep_overhead"]["count_rows_moved_by_the_sweep"] == 0
    escalated = dashboard["with_escalated"]
    assert escalated["same_report"] and escalated["escalated"] == dashboard["sweep_overhead"]["tasks"] > 0
    subtree = by_name["rollup_cte"]["subtree"]
    assert subtree["path_range_seconds"] > 0 and subtree["cte_seconds"] > 0
    memory = doc["fanout_memory"]
    assert memory["province"]["tasks"] == grassroots
    assert memory["city"]["tasks"] < grassroots
    _check_http(by_name["http"])
    prefect = by_name["prefect"]  # the sweep flow ran under Prefect's harness and swept the whole due set
    assert prefect["reminders_sent"] == by_name["sweep_due"]["due_actions"]
    assert prefect["fixed_seconds"] > 0 and prefect["flow_seconds"] > 0 and prefect["baseline_seconds"] > 0


def _check_http(http: dict) -> None:
    """Every request answered 200, a full page came back, and the bare route served the same tasks."""
    assert http["clients"] == 50
    assert http["all_status_200"] is True
    for side in (http["engine"], http["bare"]):
        assert side["requests"] == 200 and side["statuses"] == {"200": 200}
        assert 0 < side["p50_ms"] <= side["p95_ms"] and side["throughput_rps"] > 0
    assert http["page_status"] == http["baseline_page_status"] == 200
    assert http["page_items"] == 50 and len(set(http["page_ids"])) == 50
    assert http["page_total"] == http["unfinished_tasks"] > 50
    assert http["baseline_page_ids"] == http["page_ids"]
    assert http["page_ids_match"] is True and http["same_document"] is True
    assert "p95_pass" in http and http["p50_ms"] == http["engine"]["p50_ms"]
    rounds = [(r["workers"], r["sockets"]) for r in http["by_workers"]]
    assert rounds[:3] == [(1, "one, shared"), (2, "one, shared"), (2, "one per process (SO_REUSEPORT)")]
    for r in http["by_workers"]:
        assert r["engine"]["statuses"] == r["bare"]["statuses"] == {"200": 200}
    assert http["same_page_at_every_worker_count"] is True


def test_tree_shape_is_province_like() -> None:
    shape = tree_shape(215_000)
    assert shape == {"provincial": 1, "municipal": 21, "county": 120, "township": 1600, "grassroots": 213_258}
    assert sum(tree_shape(3000).values()) == 3000


def test_bench_on_sqlite(tmp_path: Path) -> None:
    _check(_run(tmp_path), "sqlite")


def test_bench_only_subset(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(),
        [
            "bench",
            "--units",
            "500",
            "--repeat",
            "1",
            "--only",
            "fanout,rollup",
            "--workdir",
            str(tmp_path / "w"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [m["name"] for m in doc["measurements"]] == ["fanout", "rollup"]


def test_bench_http_alone(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(),
        [
            "bench",
            "--units",
            "500",
            "--repeat",
            "1",
            "--only",
            "http",
            "--http-requests",
            "100",
            "--workdir",
            str(tmp_path / "w"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [m["name"] for m in doc["measurements"]] == ["http"]
    http = doc["measurements"][0]
    assert http["engine"]["statuses"] == http["bare"]["statuses"] == {"200": 100}
    assert http["page_ids_match"] is True and http["page_items"] == 50


def test_bench_refuses_unknown_measurement(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(), ["bench", "--units", "500", "--only", "nope", "--workdir", str(tmp_path)]
    )
    assert result.exit_code == 2


def test_bench_refuses_a_database_in_use_and_leaves_it_as_it_was(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE ledger (id INTEGER PRIMARY KEY)")
    result = CliRunner().invoke(
        _app(), ["--db", f"sqlite:///{path}", "bench", "--units", "500", "--workdir", str(tmp_path / "w")]
    )
    assert result.exit_code == 1 and "empty database" in result.output
    with sqlite3.connect(path) as conn:  # no migration ran: the file holds only what it held
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == [
            "ledger"
        ]


@pytest.mark.skipif(not PG_URL, reason="DUBAN_TEST_POSTGRES_URL is not set")
def test_bench_on_postgres(tmp_path: Path) -> None:
    assert PG_URL
    name = f"duban_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        _check(_run(tmp_path, "--db", url), "postgresql")
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_the_cli_names_every_measure_in_the_bench_order() -> None:
    from duban.bench.run import MEASURES as ORDERED

    assert bench_cmd.ALL == ORDERED
