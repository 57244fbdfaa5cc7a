"""kill -9 mid-sweep, and several sweeps at once: every action once, nothing lost, the audit exact."""

from __future__ import annotations

import contextlib
import random
import subprocess
import threading
import time
from typing import Any

import pytest
from reliability_world import (
    PG_URL,
    SWEEP_AT,
    World,
    _env,
    consistent,
    dispose_url,
    fingerprint,
    run_sweep_process,
    runs,
    runtime_at,
    sweep_command,
    world,  # noqa: F401  (the fixture)
)
from sqlalchemy import func, make_url, select, text

from duban.engine.periodic import run_periodic
from duban.engine.store.db import make_engine
from duban.engine.store.models import Audit, Task
from duban.engine.work import fanout


def _wait_for_the_dead(url: str) -> None:
    """PostgreSQL ends a killed client's session (rolling its batch back) once it notices it is gone.

    Until then the batch's rows stay locked and a sweep skips them (SKIP LOCKED): they are due to the
    sweep after. The test waits for that moment, so one sweep can be asked to finish everything.
    """
    if not url.startswith("postgresql"):
        return
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]
    deadline = time.monotonic() + 60
    with admin.connect() as conn:
        while time.monotonic() < deadline:
            others = conn.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"),
                {"db": make_url(url).database},
            )
            if not others:
                break
            time.sleep(0.2)
    admin.dispose()


def _finish_and_compare(url: str, built: World, reference: dict) -> None:  # type: ignore[type-arg]
    _wait_for_the_dead(url)
    engine = make_engine(url)
    run_periodic(engine, runtime_at(SWEEP_AT, built.tmp / "data"))
    found = fingerprint(engine)
    for part in ("audit", "notices", "outbox", "tasks"):
        assert found[part] == reference[part], part
    assert max(found["notices"].values()) == 1 and max(found["outbox"].values(), default=1) == 1
    consistent(engine)
    engine.dispose()
    dispose_url(url)


def test_sweeps_killed_at_random_points_lose_and_double_nothing(world: World) -> None:  # noqa: F811
    reference_url = world.clone()
    duration = run_sweep_process(reference_url, world.tmp)
    engine = make_engine(reference_url)
    reference = fingerprint(engine)
    consistent(engine)
    engine.dispose()
    dispose_url(reference_url)
    assert sum(reference["notices"].values()) > 1000
    rng = random.Random(20261130)
    kills = 0
    for _ in range(runs(3, 20)):
        url = world.clone()
        # One or two kills in a row at a random moment of the run, then a sweep to the end.
        for _ in range(rng.randint(1, 2)):
            process = subprocess.Popen(
                sweep_command(url), env=_env(world.tmp), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(rng.uniform(0.3 * duration, duration))
            if process.poll() is None:
                process.kill()
                kills += 1
            process.wait()
        _finish_and_compare(url, world, reference)
    print(
        f"\nRELIABILITY kill backend={world.backend} runs={runs(3, 20)} kills={kills} "
        f"notices={sum(reference['notices'].values())} audit={sum(reference['audit'].values())} "
        f"sweep_s={duration:.1f} lost=0 duplicated=0"
    )
    assert kills >= 1


def test_concurrent_sweeps_do_each_action_once(world: World) -> None:  # noqa: F811
    reference_url = world.clone()
    engine = make_engine(reference_url)
    run_periodic(engine, runtime_at(SWEEP_AT, world.tmp / "data"))
    reference = fingerprint(engine)
    engine.dispose()
    dispose_url(reference_url)
    sweepers = runs(4, 6)
    for _ in range(runs(1, 3)):
        url = world.clone()
        processes = [
            subprocess.Popen(
                sweep_command(url),
                env=_env(world.tmp),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(sweepers)
        ]
        for p in processes:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
        engine = make_engine(url)
        found = fingerprint(engine)
        for part in ("audit", "notices", "outbox", "tasks"):
            assert found[part] == reference[part], part
        consistent(engine)
        engine.dispose()
        dispose_url(url)
    print(
        f"\nRELIABILITY concurrent backend={world.backend} sweepers={sweepers} runs={runs(1, 3)} "
        f"notices={sum(reference['notices'].values())} audit={sum(reference['audit'].values())} duplicated=0"
    )


def test_two_sweeps_opening_the_same_period_open_it_once(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both sweeps past the moment they read the assignments, together: one opens the period, the other sees it."""
    url = world.clone()
    engine = make_engine(url)
    barrier = threading.Barrier(2, timeout=3)
    real = fanout._open_current

    def meet_then_open(*args: Any, **kwargs: Any) -> Any:
        # Broken: the other sweep waits on this one's lock, so it cannot be here at the same time.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(fanout, "_open_current", meet_then_open)
    rt = runtime_at(SWEEP_AT, world.tmp / "data")
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            run_periodic(engine, rt)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with engine.connect() as conn:
        opened = conn.scalar(
            select(func.count()).where(
                Audit.action == "period.opened", Audit.payload["period"].as_string() == "2026-06"
            )
        )
        made = conn.scalar(select(func.count()).where(Task.period == "2026-06"))
        created = conn.scalar(
            select(func.count()).where(
                Audit.action == "task.created",
                Audit.task_id.in_(select(Task.id).where(Task.period == "2026-06")),
            )
        )
    assert opened == 1
    assert made > 0 and created == made
    engine.dispose()
    dispose_url(url)
