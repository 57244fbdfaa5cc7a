"""The embedded schedule: when one process serves everything, APScheduler runs the periodic work.

Two jobs call the same engine functions the CLI, the tests and the Prefect flows call:
the periodic job (open new periods, reconcile scopes, sweep) and delivery. Each job
runs at most once at a time in this process, and missed runs coalesce into one;
several processes on one database stay safe because the engine functions are
(row locks, BEGIN IMMEDIATE, unique dedupe keys).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from duban.bootstrap import delivery_options, transports
from duban.engine.channels import Transport
from duban.engine.followup.delivery import deliver_outbox
from duban.engine.followup.sweep import sweep_due
from duban.engine.periodic import run_periodic
from duban.engine.runtime import Runtime

log = logging.getLogger("duban.scheduler")

PERIODIC_JOB = "duban-periodic"
DELIVERY_JOB = "duban-deliver"


def periodic_job(engine: Engine, rt_factory: Callable[[], Runtime], roll_over: bool = True) -> None:
    """One periodic run: new periods and scope changes, then the sweep."""
    rt = rt_factory()
    result = run_periodic(engine, rt) if roll_over else sweep_due(engine, rt)
    log.info("sweep: %s", result.to_json())


def delivery_job(
    engine: Engine,
    rt_factory: Callable[[], Runtime],
    transports_factory: Callable[[Runtime], Mapping[str, Transport]],
    options: dict[str, Any],
) -> None:
    """One delivery run over the outbox."""
    rt = rt_factory()
    result = deliver_outbox(engine, rt, transports_factory(rt), **options)
    log.info("delivery: %s", result.to_json())


def start_scheduler(
    engine: Engine,
    settings: Any,
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
        seconds=int(getattr(settings, "sweep_seconds", 60)),
        args=[engine, rt_factory, roll_over],
        **common,
    )
    scheduler.add_job(
        delivery_job,
        id=DELIVERY_JOB,
        seconds=int(getattr(settings, "deliver_seconds", 5)),
        args=[engine, rt_factory, transports_factory, delivery_options(settings)],
        **common,
    )
    if start:
        scheduler.start()
    return scheduler
