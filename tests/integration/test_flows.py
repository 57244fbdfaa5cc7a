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
    late = periodic_flow(db_url=url, batch_size=3, now="2027-03-03T10:00+08:00", sweepers=3)
    assert (late["reminders_skipped"], late["escalations"], late["tasks_touched"]) == (30, 10, 10)
    # Run again (a retried flow): nothing twice.
    again = sweep_flow(db_url=url, now="2027-03-03T10:00+08:00")
    assert again["escalations"] == 0
    sent = deliver_flow(db_url=url, now="2027-03-03T10:01+08:00")
    assert sent["inbox_items"] == 10

    db = make_engine(url)
    with read_session(db) as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 10
        assert s.scalar(select(func.count()).select_from(InboxItem)) == 10
    db.dispose()
