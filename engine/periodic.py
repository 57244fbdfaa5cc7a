"""The periodic job: open new periods, give tasks to units that joined a scope, then sweep.

It composes the work wing (fan-out) and the follow-up wing (the sweep), so it sits above both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from duban.engine.followup.sweep import SweepResult, sweep_due
from duban.engine.runtime import Runtime
from duban.engine.store.db import write_session
from duban.engine.work import fanout, person_events


def run_periodic(engine: Engine, rt: Runtime, *, batch_size: int = 1000) -> SweepResult:
    """Open new periods, reconcile scopes, post what people caused (appointments, birthdays, term ends),
    then sweep; the result says which periods opened, the tasks made and the events posted."""
    opened: list[dict[str, Any]] = []
    with write_session(engine) as session:
        rolled = fanout.roll_over(session, rt, opened=opened)
    with write_session(engine) as session:
        posted = person_events.post_people_events(session, rt)
    with write_session(engine) as session:
        joined = fanout.reconcile_scopes(session, rt)
    result = sweep_due(engine, rt, batch_size=batch_size)
    result.tasks_created = rolled + joined
    result.periods_opened = opened
    result.events_posted = posted
    return result
