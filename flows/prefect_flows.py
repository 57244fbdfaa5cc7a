"""Prefect 3 flows over the engine's periodic work, for deployments that outgrow one machine.

Each @task calls one engine function and declares its retries; a flow only sequences
them. Prefect orchestrates batches and subtrees, never one run per task: the national
sweep is one task per top-level subtree (a partition of the unit paths), each of which
sweeps its due tasks in database batches, then one unpartitioned pass picks up the rest.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from sqlalchemy import Engine

from engine.db import make_engine, read_session, write_session
from engine.delivery import deliver_outbox
from engine.runtime import Runtime
from engine.sweep import partitions, sweep_due
from flows.wiring import delivery_options, transports


def _settings() -> Any:
    from api.settings import Settings

    return Settings()


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    # One pool per database per worker process, shared by the tasks it runs.
    return make_engine(url)


def _wiring(db_url: str | None, now: str | None) -> tuple[Any, Engine, Runtime]:
    from api.bootstrap import build_runtime

    settings = _settings()
    pinned = datetime.fromisoformat(now) if now else None
    return settings, _engine(db_url or settings.database_url), build_runtime(settings, now=pinned)


@task(retries=3, retry_delay_seconds=[5, 30, 120])
def list_partitions(db_url: str | None = None) -> list[str]:
    """The unit paths just below the roots: one sweep task each."""
    _, engine, _ = _wiring(db_url, None)
    with read_session(engine) as session:
        return partitions(session)


@task(retries=3, retry_delay_seconds=[5, 30, 120])
def sweep_partition(
    db_url: str | None = None, partition: str | None = None, batch_size: int = 1000, now: str | None = None
) -> dict[str, int]:
    """Sweep one subtree (or, with no partition, everything left); safe to retry: dedupe keys hold."""
    _, engine, rt = _wiring(db_url, now)
    return sweep_due(engine, rt, batch_size=batch_size, partition=partition).to_json()


@task(retries=3, retry_delay_seconds=[5, 30, 120])
def open_new_periods(db_url: str | None = None, now: str | None = None) -> dict[str, int]:
    """Open the new periods of recurring assignments and give tasks to units that joined a scope."""
    from engine import fanout

    _, engine, rt = _wiring(db_url, now)
    with write_session(engine) as session:
        opened = fanout.roll_over(session, rt)
    with write_session(engine) as session:
        reconciled = fanout.reconcile_scopes(session, rt)
    return {"periods_opened": opened, "scopes_reconciled": reconciled}


@task(retries=2, retry_delay_seconds=[10, 60])
def deliver(db_url: str | None = None, now: str | None = None) -> dict[str, int]:
    """Deliver the outbox once (retries of single digests are the outbox's own backoff)."""
    settings, engine, rt = _wiring(db_url, now)
    return deliver_outbox(engine, rt, transports(settings, rt.clock), **delivery_options(settings)).to_json()


def _sum(results: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for result in results:
        for key, value in result.items():
            total[key] = total.get(key, 0) + value
    return total


@flow(name="duban-sweep", log_prints=False)
def sweep_flow(db_url: str | None = None, batch_size: int = 1000, now: str | None = None) -> dict[str, int]:
    """Sweep the whole tree: one task per top-level subtree in parallel, then one pass for the rest."""
    paths = list_partitions(db_url)
    futures = sweep_partition.map(unmapped(db_url), paths, unmapped(batch_size), unmapped(now)) if paths else []
    parts = [f.result() for f in futures]
    # The roots' own tasks, anything a failed partition left, and provisional re-timing.
    parts.append(sweep_partition(db_url, None, batch_size, now))
    total = _sum(parts)
    get_run_logger().info("sweep: %s over %d partitions", total, len(paths))
    return total


@flow(name="duban-new-periods")
def new_periods_flow(db_url: str | None = None, now: str | None = None) -> dict[str, int]:
    """Open new periods and reconcile scopes."""
    return open_new_periods(db_url, now)


@flow(name="duban-periodic")
def periodic_flow(db_url: str | None = None, batch_size: int = 1000, now: str | None = None) -> dict[str, int]:
    """New periods first (their tasks may already be due), then the partitioned sweep."""
    opened = open_new_periods(db_url, now)
    return {**opened, **sweep_flow(db_url, batch_size, now)}


@flow(name="duban-deliver")
def deliver_flow(db_url: str | None = None, now: str | None = None) -> dict[str, int]:
    """Deliver the outbox."""
    return deliver(db_url, now)
