"""Prefect 3 flows over the engine's periodic work, for deployments that outgrow one machine.

Each @task calls one engine function and declares its retries; a flow only sequences
them. Prefect orchestrates batches, never one run per task: the sweep is a few sweepers
working the one queue of due tasks in database batches; `FOR UPDATE SKIP LOCKED` hands each
batch to one of them. (Splitting by subtree instead made each subtree's batches walk past
the others' due tasks in the index: 1.3x one sweep's time run one after another, more at once.)

Delivery runs inside the periodic flow, for most of the minute until the next run: a flow run
on a process work pool starts a fresh interpreter (10-16 s of start-up on a busy worker), so a
deployment of its own every 15 s spent more time starting than delivering and fell behind.
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import lru_cache
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from sqlalchemy import Engine

from duban.bootstrap import build_runtime, delivery_options, transports
from duban.engine.followup.delivery import deliver_outbox
from duban.engine.followup.sweep import sweep_due
from duban.engine.runtime import Runtime
from duban.engine.store.db import make_engine, write_session
from duban.engine.work import fanout
from duban.settings import Settings


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    # One pool per database per worker process, shared by the tasks it runs.
    return make_engine(url)


def _wiring(db_url: str | None, now: str | None) -> tuple[Settings, Engine, Runtime]:
    settings = Settings()
    pinned = datetime.fromisoformat(now) if now else None
    return settings, _engine(db_url or settings.database_url), build_runtime(settings, now=pinned)


@task(retries=3, retry_delay_seconds=[5, 30, 120])
def sweep_queue(
    db_url: str | None = None, batch_size: int = 1000, now: str | None = None, sweeper: int = 0
) -> dict[str, Any]:
    """Sweep due tasks until none is left to take; safe to retry: dedupe keys hold.

    `sweeper` only tells the sweepers of one flow run apart (their inputs would otherwise be equal).
    """
    _, engine, rt = _wiring(db_url, now)
    return sweep_due(engine, rt, batch_size=batch_size).to_json()


@task(retries=3, retry_delay_seconds=[5, 30, 120])
def open_new_periods(db_url: str | None = None, now: str | None = None) -> dict[str, int]:
    """Open the new periods of recurring assignments and give tasks to units that joined a scope."""
    _, engine, rt = _wiring(db_url, now)
    with write_session(engine) as session:
        opened = fanout.roll_over(session, rt)
    with write_session(engine) as session:
        reconciled = fanout.reconcile_scopes(session, rt)
    return {"periods_opened": opened, "scopes_reconciled": reconciled}


@task(retries=2, retry_delay_seconds=[10, 60])
def deliver(
    db_url: str | None = None, now: str | None = None, seconds: float = 0.0, every: float = 5.0
) -> dict[str, Any]:
    """Deliver the outbox, then again every `every` seconds until `seconds` have passed.

    Retries of single digests are the outbox's own backoff. A pinned `now` (a replayed day)
    delivers once: its clock does not move, so a second pass would find nothing new.
    """
    settings, engine, rt = _wiring(db_url, now)
    sends, options = transports(settings, rt.clock), delivery_options(settings)
    stop = time.monotonic() + seconds
    passes: list[dict[str, Any]] = []
    while True:
        passes.append(deliver_outbox(engine, rt, sends, **options).to_json())
        if now is not None or time.monotonic() + every > stop:
            return {**_sum(passes), "passes": len(passes)}
        time.sleep(every)


def _sum(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts added, lists (the units nobody hears, the periods opened) joined; a mapping (what waits
    for a transport) is a snapshot, so the last one stands."""
    total: dict[str, Any] = {}
    for result in results:
        for key, value in result.items():
            total[key] = value if isinstance(value, dict) else total.get(key, type(value)()) + value
    return total


@flow(name="duban-sweep", log_prints=False)
def sweep_flow(
    db_url: str | None = None,
    batch_size: int = 1000,
    now: str | None = None,
    sweepers: int = 2,
    deliver_after: bool = False,
) -> dict[str, Any]:
    """Sweep everything due: `sweepers` tasks at once on the worker's task runner, sharing one queue.

    `deliver_after` then delivers as of the same `now`, so a replayed day's notices go out
    today instead of waiting in the outbox until that day comes.
    """
    futures = sweep_queue.map(unmapped(db_url), unmapped(batch_size), unmapped(now), range(max(1, sweepers)))
    total = _sum([f.result() for f in futures])
    get_run_logger().info("sweep: %s by %d sweepers", total, max(1, sweepers))
    if deliver_after:
        total = {**total, **{f"deliver_{k}": v for k, v in deliver(db_url, now).items()}}
    return total


@flow(name="duban-new-periods")
def new_periods_flow(db_url: str | None = None, now: str | None = None) -> dict[str, int]:
    """Open new periods and reconcile scopes."""
    return open_new_periods(db_url, now)


@flow(name="duban-periodic")
def periodic_flow(
    db_url: str | None = None,
    batch_size: int = 1000,
    now: str | None = None,
    sweepers: int = 2,
    deliver_for: float = 0.0,
    deliver_every: float = 5.0,
) -> dict[str, int]:
    """New periods first (their tasks may already be due), then the sweep, then delivery.

    Delivery passes repeat every `deliver_every` seconds for `deliver_for` seconds (prefect.yaml:
    50 of the 60 between runs), so one process start serves a minute of delivery.
    """
    opened = open_new_periods(db_url, now)
    swept = sweep_flow(db_url, batch_size, now, sweepers)
    delivered = deliver(db_url, now, deliver_for, deliver_every)
    get_run_logger().info("deliver: %s", delivered)
    return {**opened, **swept, **{f"deliver_{k}": v for k, v in delivered.items()}}


@flow(name="duban-deliver")
def deliver_flow(db_url: str | None = None, now: str | None = None) -> dict[str, int]:
    """Deliver the outbox."""
    return deliver(db_url, now)
