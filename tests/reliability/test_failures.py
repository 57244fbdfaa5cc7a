"""Downtime, failures injected inside transactions, a dropped connection, delivery killed after sending."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from reliability_world import (
    ASSIGNED,
    PG_URL,
    TZ,
    World,
    build_world,
    consistent,
    dispose_url,
    fingerprint,
    runs,
    runtime_at,
    world,  # noqa: F401  (the fixture)
)
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from duban.engine.followup.delivery import deliver_outbox
from duban.engine.followup.sweep import sweep_due
from duban.engine.periodic import run_periodic
from duban.engine.store import bulk as bulk_module
from duban.engine.store.db import make_engine, write_session
from duban.engine.store.models import Audit, Notification, Outbox, Unit


def _notice_times(engine: Any) -> list[tuple[datetime, datetime]]:
    with engine.connect() as conn:
        rows = conn.execute(select(Notification.payload, Notification.created_at)).all()
    return [(datetime.fromisoformat(p["at"]), created) for p, created in rows]


def test_thirty_days_down_each_missed_escalation_once_nothing_early(world: World) -> None:  # noqa: F811
    url = world.clone()
    engine = make_engine(url)
    # Down from the day of assignment for 30 days: due on day 10, overdue from day 11.
    back = ASSIGNED + timedelta(days=30)
    run_periodic(engine, runtime_at(back, world.tmp / "data"))
    with engine.connect() as conn:
        kinds = Counter(conn.execute(select(Notification.kind, Notification.step)).all())
        skipped = conn.scalar(select(func.count()).where(Audit.action == "task.reminder_skipped"))
    grassroots = kinds[("escalation", 1)]
    assert grassroots > 500
    # Missed: two escalations (P0D and P7D after overdue), each once; the P30D one is not due yet.
    assert kinds == {("escalation", 1): grassroots, ("escalation", 2): grassroots}
    # Reminders of a deadline already missed are recorded as skipped, never sent late.
    assert skipped >= 3 * grassroots  # and the monthly report's reminder, missed too
    # Then daily sweeps: the third escalation comes once, on its day, never before.
    for day in range(1, 16):
        run_periodic(engine, runtime_at(back + timedelta(days=day), world.tmp / "data"))
        for at, created in _notice_times(engine):
            assert at <= created
    with engine.connect() as conn:
        kinds = Counter(conn.execute(select(Notification.kind, Notification.step)).all())
    assert kinds[("escalation", 3)] == grassroots and max(fingerprint(engine)["notices"].values()) == 1
    consistent(engine)
    engine.dispose()
    dispose_url(url)


class Injected(RuntimeError):
    """A failure put inside a sweep's transaction on purpose."""


def test_failures_injected_inside_transactions_leave_no_half_change(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference_url = world.clone()
    engine = make_engine(reference_url)
    rt = runtime_at(datetime(2026, 6, 3, 10, 0, tzinfo=TZ), world.tmp / "data")
    run_periodic(engine, rt, batch_size=20)
    reference = fingerprint(engine)
    engine.dispose()
    dispose_url(reference_url)

    rng = random.Random(15)
    wanted = runs(100, 400)
    failures = rounds = 0
    real = {name: getattr(bulk_module.Bulk, name) for name in ("insert", "update")}

    def flaky(name: str) -> Any:
        def write(self: Any, *args: Any, **kwargs: Any) -> Any:
            # Before or after the real write, at random: a failure mid-batch, after some rows went in.
            if rng.random() < 0.25:
                raise Injected(name)
            done = real[name](self, *args, **kwargs)
            if rng.random() < 0.2:
                raise Injected(name)
            return done

        return write

    while failures < wanted:
        url = world.clone()
        engine = make_engine(url)
        monkeypatch.setattr(bulk_module.Bulk, "insert", flaky("insert"))
        monkeypatch.setattr(bulk_module.Bulk, "update", flaky("update"))
        while True:
            rounds += 1
            try:
                run_periodic(engine, rt, batch_size=20)
                break
            except Injected:
                failures += 1
                consistent(engine)
        monkeypatch.undo()
        found = fingerprint(engine)
        for part in ("audit", "notices", "tasks"):
            assert found[part] == reference[part], part
        engine.dispose()
        dispose_url(url)
    print(
        f"\nRELIABILITY injected backend={world.backend} failures={failures} sweeps={rounds} half_changes=0"
    )


def _db_name(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).database or ""


@pytest.fixture(scope="module", params=["postgres"] if PG_URL else [])
def pg_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from build_world(request.param, tmp_path_factory.mktemp("rel-pg-drop"))


def test_a_connection_dropped_mid_sweep_and_the_next_sweep_completes(pg_world: World) -> None:
    reference_url = pg_world.clone()
    engine = make_engine(reference_url)
    rt = runtime_at(datetime(2026, 6, 3, 10, 0, tzinfo=TZ), pg_world.tmp / "data")
    run_periodic(engine, rt, batch_size=200)
    reference = fingerprint(engine)
    engine.dispose()
    dispose_url(reference_url)

    url = pg_world.clone()
    engine = make_engine(url)
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]

    def drop(batch: int) -> None:
        if batch == 2:
            with admin.connect() as conn:
                conn.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (_db_name(url),),
                )

    with pytest.raises(OperationalError):
        sweep_due(engine, rt, batch_size=200, on_batch=drop)
    assert 0 < sum(fingerprint(engine)["notices"].values()) < sum(reference["notices"].values())
    run_periodic(engine, rt, batch_size=200)
    found = fingerprint(engine)
    for part in ("audit", "notices", "tasks"):
        assert found[part] == reference[part], part
    consistent(engine)
    admin.dispose()
    engine.dispose()
    dispose_url(url)


class Recorder:
    """A webhook receiver in memory: each message's idempotency key and its notices."""

    def __init__(self, die_after: int | None = None) -> None:
        self.keys: list[str] = []
        self.die_after = die_after

    def send(self, digest: Any) -> None:
        self.keys.append(digest.idempotency_key)
        if self.die_after is not None and len(self.keys) >= self.die_after:
            raise KeyboardInterrupt("killed between sending and marking sent")


def test_delivery_killed_between_send_and_mark_resends_under_the_same_key(world: World) -> None:  # noqa: F811
    rng = random.Random(7)
    for _ in range(runs(2, 10)):
        url = world.clone()
        engine = make_engine(url)
        with write_session(engine) as s:
            s.execute(
                update(Unit)
                .where(Unit.level == "township")
                .values(
                    contacts=func.json_object(
                        "email",
                        func.json("[]"),
                        "webhooks",
                        func.json_array(
                            func.json_object("kind", "generic", "url", "http://127.0.0.1:9/" + Unit.code)
                        ),
                    )
                    if world.backend == "sqlite"
                    else func.json_build_object(
                        "email",
                        func.json_build_array(),
                        "webhooks",
                        func.json_build_array(
                            func.json_build_object(
                                "kind", "generic", "url", "http://127.0.0.1:9/" + Unit.code
                            )
                        ),
                    )
                )
            )
        rt = runtime_at(datetime(2026, 6, 3, 10, 0, tzinfo=TZ), world.tmp / "data")
        run_periodic(engine, rt)
        dying = Recorder(die_after=rng.randint(1, 40))
        with pytest.raises(KeyboardInterrupt):
            deliver_outbox(engine, rt, {"webhook": dying}, batch_size=50, lease_seconds=60)
        killed = dying.keys[-1]
        rt.clock.advance(timedelta(seconds=61))  # type: ignore[attr-defined]
        again = Recorder()
        deliver_outbox(engine, rt, {"webhook": again}, batch_size=50, lease_seconds=60)
        sent = Counter(dying.keys + again.keys)
        # Messages of the killed claim were never marked: they go again, under their own keys
        # (a receiver dedupes on them); nothing sent and marked goes twice, nothing is never sent.
        twice = {k for k, n in sent.items() if n > 1}
        assert sent[killed] == 2 and twice <= set(dying.keys)
        assert max(sent.values()) == 2
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).where(Outbox.status != "sent")) == 0
        engine.dispose()
        dispose_url(url)
