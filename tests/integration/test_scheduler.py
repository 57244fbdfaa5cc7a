"""The embedded scheduler runs the same engine functions: a reminder appears and reaches the inbox."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from test_sweep import add_account, world

from duban.engine.store.db import make_engine, read_session
from duban.engine.store.models import InboxItem, Notification
from duban.flows.schedule import DELIVERY_JOB, PERIODIC_JOB, start_scheduler
from duban.settings import Settings


def test_scheduler_sweeps_and_delivers(sqlite_template: Path, tmp_path: Path, replay: Any) -> None:
    path = tmp_path / "scheduled.db"
    shutil.copy(sqlite_template, path)
    db = make_engine(f"sqlite:///{path}")
    ids, _ = world(db, replay.rt, codes=("G01",))
    add_account(db, "g01-staff", ids["G01"], "staff")
    replay.at("2027-03-01T09:30")  # the P1D reminder is due
    settings = Settings(sweep_seconds=1, deliver_seconds=1, data_dir=tmp_path / "data")
    scheduler = start_scheduler(db, settings, lambda: replay.rt, transports_factory=lambda rt: {})
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {PERIODIC_JOB, DELIVERY_JOB}
        assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
        deadline = time.monotonic() + 15
        delivered = 0
        while time.monotonic() < deadline:
            with read_session(db) as s:
                delivered = s.scalar(select(func.count()).select_from(InboxItem)) or 0
            if delivered:
                break
            time.sleep(0.2)
    finally:
        scheduler.shutdown(wait=True)
    with read_session(db) as s:
        kinds = s.execute(select(Notification.kind, Notification.step)).all()
    db.dispose()
    # The P30D/P7D reminders fell before the clock's day but their deadline has not passed, so all go out.
    assert sorted(kinds) == [("reminder", 1), ("reminder", 2), ("reminder", 3)]
    assert delivered >= 1
