"""The embedded schedule: when one process serves everything, APScheduler runs the periodic work.

Two jobs call the same engine functions the CLI, the tests and the Prefect flows call:
the periodic job (open new periods, reconcile scopes, sweep) and delivery. Each job
runs at most once at a time in this process, and missed runs coalesce into one;
several processes on one database stay safe because the engine functions are
(row locks, BEGIN IMMEDIATE, unique dedupe keys). `duban serve --workers N` starts it in the
parent process only, so it runs once whatever N.

Each run logs one line with its counts (logger `duban.scheduler`) and leaves them for /readyz
(`duban.heartbeat`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from duban import heartbeat
from duban.bootstrap import delivery_options, transports
from duban.engine.channels import Transport
from duban.engine.followup.delivery import deliver_outbox
from duban.engine.followup.sweep import sweep_due
from duban.engine.periodic import run_periodic
from duban.engine.runtime import Runtime
from duban.settings import Settings

log = logging.getLogger("duban.scheduler")

PERIODIC_JOB = "duban-periodic"
DELIVERY_JOB = "duban-deliver"


def counts_line(counts: dict[str, Any]) -> str:
    """`reminders sent 3, escalations 1, ...`: the numbers of a run, the ones that are numbers."""
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if isinstance(v, int | float))


def _done(job: str, rt: Runtime, counts: dict[str, Any], data_dir: Path | None) -> None:
    log.info("%s at %s: %s", job, rt.local(rt.now()).isoformat(timespec="seconds"), counts_line(counts))
    if data_dir is not None:
        heartbeat.record(data_dir, job, rt.now(), counts)


def periodic_job(
    engine: Engine, rt_factory: Callable[[], Runtime], roll_over: bool = True, data_dir: Path | None = None
) -> None:
    """One periodic run: new periods and scope changes, then the sweep."""
    rt = rt_factory()
    result = run_periodic(engine, rt) if roll_over else sweep_due(engine, rt)
    _done("sweep", rt, result.to_json(), data_dir)


def delivery_job(
    engine: Engine,
    rt_factory: Callable[[], Runtime],
    transports_factory: Callable[[Runtime], Mapping[str, Transport]],
    options: dict[str, Any],
    data_dir: Path | None = None,
) -> None:
    """One delivery run over the outbox."""
    rt = rt_factory()
    result = deliver_outbox(engine, rt, transports_factory(rt), **options)
    _done("delivery", rt, result.to_json(), data_dir)


def start_scheduler(
    engine: Engine,
    settings: Settings,
    rt_factory: Callable[[], Runtime],
    *,
    transports_factory: Callable[[Runtime], Mapping[str, Transport]] | None = None,
    roll_over: bool = True,
    start: bool = True,
) -> BackgroundScheduler:
    """A background scheduler running the periodic job every `settings.sweep_seconds` and delivery every `deliver_seconds`."""
    if transports_factory is None:

        def transports_factory(rt: Runtime) -> Mapping[str, Transport]:
            return transports(settings, rt.clock)

    scheduler = BackgroundScheduler(timezone=UTC)
    # First runs at once: a server that just started catches up without waiting an interval.
    first = datetime.now(UTC)
    common = {
        "trigger": "interval",
        "max_instances": 1,
        "coalesce": True,
        "next_run_time": first,
        "replace_existing": True,
        "misfire_grace_time": None,
    }
    scheduler.add_job(
        periodic_job,
        id=PERIODIC_JOB,
        seconds=settings.sweep_seconds,
        args=[engine, rt_factory, roll_over, settings.data_dir],
        **common,
    )
    scheduler.add_job(
        delivery_job,
        id=DELIVERY_JOB,
        seconds=settings.deliver_seconds,
        args=[engine, rt_factory, transports_factory, delivery_options(settings), settings.data_dir],
        **common,
    )
    if start:
        scheduler.start()
    return scheduler
