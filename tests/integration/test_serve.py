"""The server as an operator runs it: the scheduler's log lines, /healthz and /readyz, several worker processes."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from test_sweep import add_account, world

from duban.api.app import create_app
from duban.engine.store.db import make_engine
from duban.flows.schedule import delivery_job, periodic_job
from duban.heartbeat import last_runs
from duban.settings import Settings


def test_each_run_logs_one_line_with_its_counts_and_leaves_them_for_readyz(
    db: Engine, replay: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ids, _ = world(db, replay.rt, codes=("G01",))
    add_account(db, "g01-staff", ids["G01"], "staff")
    replay.at("2027-03-01T09:30")  # the reminders are due
    data = tmp_path / "data"
    with caplog.at_level(logging.INFO, logger="duban.scheduler"):
        periodic_job(db, lambda: replay.rt, True, data)
        delivery_job(db, lambda: replay.rt, lambda rt: {}, {}, data)
    lines = [r.getMessage() for r in caplog.records if r.name == "duban.scheduler"]
    assert len(lines) == 2
    assert re.match(r"sweep at 2027-03-01T09:30:00\+08:00: .*reminders sent 3", lines[0]), lines[0]
    assert re.match(r"delivery at 2027-03-01T09:30:00\+08:00: .*", lines[1]) and "sent" in lines[1]
    runs = last_runs(data)
    assert runs["sweep"]["counts"]["reminders_sent"] == 3 and runs["sweep"]["pid"] == os.getpid()
    assert runs["delivery"] is not None

    client = TestClient(create_app(Settings(data_dir=data, _env_file=None), engine=db, runtime=replay.rt))
    assert client.get("/healthz").json() == {"status": "ok", "pid": os.getpid()}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    doc = ready.json()
    assert doc["status"] == "ready" and doc["database"] == "ok"
    assert doc["scheduler"]["sweep"]["counts"]["reminders_sent"] == 3
    assert set(doc["outbox"]) == {"waiting", "due", "dead", "oldest_waiting"}


def test_readyz_says_503_when_the_database_is_gone(tmp_path: Path, replay: Any) -> None:
    gone = make_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    client = TestClient(
        create_app(Settings(data_dir=tmp_path, _env_file=None), engine=gone, runtime=replay.rt)
    )
    assert client.get("/healthz").status_code == 200  # the process lives
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    assert ready.json()["scheduler"] == {"sweep": None, "delivery": None}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_with_workers_runs_the_scheduler_once(tmp_path: Path) -> None:
    """Two worker processes answer; the scheduler runs in the parent only, every second, and says so."""
    duban = [sys.executable, "-m", "duban.cli.main", "--db", f"sqlite:///{tmp_path / 'served.db'}"]
    env = {
        **os.environ,
        "DUBAN_SWEEP_SECONDS": "1",
        "DUBAN_DELIVER_SECONDS": "1",
        "DUBAN_DATA_DIR": str(tmp_path / "data"),
    }
    subprocess.run([*duban, "init"], check=True, env=env, capture_output=True)
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*duban, "serve", "--workers", "2", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        pids: set[int] = set()
        ready: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                with httpx.Client(trust_env=False, timeout=5) as client:
                    for _ in range(8):
                        pids.add(client.get(f"{base}/healthz", headers={"Connection": "close"}).json()["pid"])
                    ready = client.get(f"{base}/readyz").json()
            except httpx.TransportError:
                time.sleep(0.3)
                continue
            sweeps = log.read_text(errors="replace").count("duban.scheduler")
            if ready.get("scheduler", {}).get("sweep") and sweeps >= 4:
                break
            time.sleep(0.5)
        assert ready.get("status") == "ready", log.read_text(errors="replace")[-3000:]
        assert server.pid not in pids  # the workers answer, not the parent
        assert ready["scheduler"]["sweep"]["pid"] == server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    lines = [line for line in log.read_text(errors="replace").splitlines() if "duban.scheduler" in line]
    assert len(lines) >= 4
    assert {re.search(r"\[(\d+)\]", line).group(1) for line in lines} == {str(server.pid)}  # type: ignore[union-attr]
    assert any(re.search(r"sweep at .*: ", line) for line in lines)
    assert any(re.search(r"delivery at .*: ", line) for line in lines)
    assert json.dumps(ready)  # the document is plain JSON
