"""The Prefect flows under Prefect's own test harness (a real temporary server), once, on SQLite."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from test_sweep import add_account, world

from duban.engine.store.db import make_engine, read_session
from duban.engine.store.models import InboxItem, Notification

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def harness() -> Any:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


def test_periodic_sweep_and_delivery_flows(
    harness: Any, sqlite_template: Path, tmp_path: Path, replay: Any
) -> None:
    from duban.flows.prefect_flows import deliver_flow, new_periods_flow, periodic_flow, sweep_flow

    path = tmp_path / "flows.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    db = make_engine(url)
    ids, _ = world(db, replay.rt, codes=("G01", "G03"), subjects=5)
    add_account(db, "t01-admin", ids["T01"], "admin")
    add_account(db, "t02-admin", ids["T02"], "admin")
    db.dispose()

    assert new_periods_flow(db_url=url, now="2026-03-03T09:00+08:00") == {
        "periods_opened": 0,
        "scopes_reconciled": 0,
    }
    # Past the deadline: reminders skipped, the first escalation to each township, by three sweepers in batches of 3.
    # The same run delivers what it made, as of the replayed day (one pass: a pinned clock does not move).
    late = periodic_flow(db_url=url, batch_size=3, now="2027-03-03T10:00+08:00", sweepers=3, deliver_for=30)
    assert (late["reminders_skipped"], late["escalations"], late["tasks_touched"]) == (30, 10, 10)
    assert (late["deliver_inbox_items"], late["deliver_passes"]) == (10, 1)
    # Run again (a retried flow): nothing twice.
    again = sweep_flow(db_url=url, now="2027-03-03T10:00+08:00", deliver_after=True)
    assert (again["escalations"], again["deliver_inbox_items"]) == (0, 0)
    sent = deliver_flow(db_url=url, now="2027-03-03T10:01+08:00")
    assert sent["inbox_items"] == 0

    db = make_engine(url)
    with read_session(db) as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 10
        assert s.scalar(select(func.count()).select_from(InboxItem)) == 10
    db.dispose()


def test_delivery_repeats_within_its_window_on_a_moving_clock(sqlite_template: Path, tmp_path: Path) -> None:
    from duban.flows.prefect_flows import deliver

    path = tmp_path / "window.db"
    shutil.copy(sqlite_template, path)
    result = deliver.fn(db_url=f"sqlite:///{path}", now=None, seconds=1.0, every=0.3)
    # Passes at about 0, 0.3, 0.6 and 0.9 s; fewer when a pass itself is slow, never one past the window.
    assert 2 <= result["passes"] <= 4
