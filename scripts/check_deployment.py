"""The documented Prefect deployment, end to end on loopback: server, pool, deploy, worker, a scheduled sweep.

Run by `scripts/check-deployment` (CI's long mode). Follows docs/deploy.md to the letter:
a Prefect server on PostgreSQL, the process work pool `duban`, `prefect deploy --all` from
prefect.yaml, the zombie automation from prefect-automations.yaml, and one worker with the
DUBAN_* settings and nothing else (no checkout). Then it waits for scheduled periodic runs and
checks that their notices reached the inbox once each, that runs started on time, that a killed
worker's run is marked Crashed and the next run still starts, and that SIGINT stops a worker.
Prints one JSON document of figures; exits 1 on a failed check.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG = os.environ.get("DUBAN_TEST_POSTGRES_URL") or "postgresql://root@127.0.0.1:5432/postgres"
RUNS = int(os.environ.get("DUBAN_CHECK_RUNS", "3"))  # scheduled runs observed after the restart

UNITS = """code,name,parent_code,level,tags,attrs
C01,示例市总工会,,municipal,,
K01,示例县总工会,C01,county,,
T01,示例镇工会,K01,township,,
G01,第一基层工会,T01,grassroots,enterprise,
G02,第二基层工会,T01,grassroots,enterprise,
G03,第三基层工会,T01,grassroots,enterprise,
"""

DEFINITION = """id: deployment-check
title: 部署检查：按期报送
title_en: Deployment check
source: "部署检查（非计划事项）"
applies_to: {levels: [grassroots]}
trigger: assigned
due: {after: P1D}
reminders: [P1D]
completion: {}
approval: []
escalation:
  - {after: P0D, to: parent}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else []


def database(name: str) -> str:
    sql(PG, f'CREATE DATABASE "{name}"')
    return PG.rsplit("/", 1)[0] + f"/{name}"


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(args, env=env, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def wait_for(what: str, check: Any, timeout: float, every: float = 2.0) -> Any:
    stop = time.monotonic() + timeout
    while time.monotonic() < stop:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def flow_runs(api: str, deployment: str) -> list[dict[str, Any]]:
    body = {"deployments": {"name": {"any_": [deployment]}}, "sort": "EXPECTED_START_TIME_ASC", "limit": 200}
    return httpx.post(f"{api}/flow_runs/filter", json=body, timeout=30).json()


def lateness(runs: list[dict[str, Any]]) -> list[float]:
    return [
        (
            datetime.fromisoformat(r["start_time"]) - datetime.fromisoformat(r["expected_start_time"])
        ).total_seconds()
        for r in runs
        if r.get("start_time") and r.get("expected_start_time")
    ]


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="duban-deploy-"))
    tag = uuid.uuid4().hex[:8]
    duban_db, prefect_db = f"duban_deploy_{tag}", f"prefect_deploy_{tag}"
    duban_url, prefect_url = database(duban_db), database(prefect_db)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(work / "prefect"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": prefect_url.replace("postgresql://", "postgresql+asyncpg://"),
        "DUBAN_DATABASE_URL": duban_url,
        "DUBAN_DATA_DIR": str(work / "data"),
    }
    procs: list[subprocess.Popen[bytes]] = []
    figures: dict[str, Any] = {"prefect_database": "postgresql", "port": port}
    try:
        server = subprocess.Popen(
            [BIN / "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=work,
            stdout=_log(work / "server.log"),
            stderr=subprocess.STDOUT,
        )
        procs.append(server)
        wait_for("the Prefect server", lambda: _healthy(api), 120)

        # duban: schema, a small tree, one item assigned yesterday and due today, so the next
        # sweep escalates each of its three tasks to the township, whose admin reads the inbox.
        (work / "units.csv").write_text(UNITS, encoding="utf-8")
        (work / "defs").mkdir()
        (work / "defs" / "deployment-check.yaml").write_text(DEFINITION, encoding="utf-8")
        duban = str(BIN / "duban")
        run(env, duban, "init")
        run(env, duban, "units", "import", str(work / "units.csv"))
        run(
            env,
            duban,
            "accounts",
            "add",
            "t01-admin",
            "--unit",
            "T01",
            "--role",
            "admin",
            stdin="deploy-check-pass\n",
        )
        run(env, duban, "definitions", "load", str(work / "defs"))
        yesterday = (datetime.now(UTC) - timedelta(days=2)).astimezone().isoformat(timespec="seconds")
        run(env, duban, "--now", yesterday, "assign", "deployment-check", "--scope", "T01")

        run(env, str(BIN / "prefect"), "work-pool", "create", "duban", "--type", "process")
        run(env, str(BIN / "prefect"), "automation", "create", "--from-file", "prefect-automations.yaml")
        run(env, str(BIN / "prefect"), "--no-prompt", "deploy", "--all")

        worker_env = {**env, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}
        worker = _worker(worker_env, work, "worker-1")
        procs.append(worker)

        inbox = wait_for(
            "the scheduled sweep's notices in the inbox",
            lambda: sql(duban_url, "SELECT count(*) FROM inbox_item")[0][0] >= 3 or None,
            240,
        )
        figures["inbox_items"] = sql(duban_url, "SELECT count(*) FROM inbox_item")[0][0]
        keys = sql(duban_url, "SELECT count(*), count(DISTINCT dedupe_key) FROM notification")[0]
        figures["notifications"], figures["distinct_dedupe_keys"] = keys
        assert inbox and figures["inbox_items"] == 3, figures
        assert keys[0] == keys[1] == 3, figures

        # A killed worker: its running run stops heartbeating and is marked Crashed by the
        # automation, which frees the deployment's one slot for the next scheduled run.
        wait_for("a running periodic run", lambda: _running(api), 150, every=1)
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and the flow run it started: a lost machine
        worker.wait()
        killed_at = time.monotonic()
        crashed = wait_for(
            "the killed worker's run to be marked Crashed", lambda: _crashed(api), 300, every=5
        )
        figures["zombie_marked_crashed_after_s"] = round(time.monotonic() - killed_at)
        figures["zombie_run"] = crashed
        worker2 = _worker(worker_env, work, "worker-2")
        procs.append(worker2)
        after_kill = time.monotonic()
        wait_for("a periodic run completed after the kill", lambda: _completed_since(api, crashed) >= 1, 200)
        figures["next_run_completed_after_restart_s"] = round(time.monotonic() - after_kill)
        # Then a few minutes of an idle deployment: how late runs start, what a worker costs.
        cpu_before, clock_before = _cpu_seconds(worker2.pid), time.monotonic()
        wait_for(
            f"{RUNS} more periodic runs", lambda: _completed_since(api, crashed) >= 1 + RUNS, 90 * RUNS + 60
        )
        minutes = (time.monotonic() - clock_before) / 60
        figures["idle_worker_cpu_seconds_per_minute"] = round(
            (_cpu_seconds(worker2.pid) - cpu_before) / minutes, 2
        )

        runs = [r for r in flow_runs(api, "periodic") if r["state_type"] == "COMPLETED"]
        late = sorted(lateness(runs))
        figures["periodic_runs_completed"] = len(runs)
        figures["start_lateness_s"] = {"median": late[len(late) // 2], "max": late[-1]} if late else None
        figures["periodic_run_seconds"] = sorted(round(r["total_run_time"], 1) for r in runs)

        # Shutdown: one SIGINT stops a worker (systemd: KillSignal=SIGINT).
        worker2.send_signal(signal.SIGINT)
        stopped_at = time.monotonic()
        worker2.wait(timeout=60)
        figures["worker_stopped_on_sigint_s"] = round(time.monotonic() - stopped_at, 1)
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for name in (duban_db, prefect_db):
            sql(PG, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _log(path: Path) -> int:
    # A descriptor the child inherits and keeps; ours closes when this process ends.
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _worker(env: dict[str, str], work: Path, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [BIN / "prefect", "worker", "start", "--pool", "duban", "--name", name],
        env=env,
        cwd=work,
        stdout=_log(work / f"{name}.log"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _running(api: str) -> str | None:
    runs = [r for r in flow_runs(api, "periodic") if r["state_type"] == "RUNNING"]
    return runs[0]["id"] if runs else None


def _crashed(api: str) -> str | None:
    runs = [r for r in flow_runs(api, "periodic") if r["state_type"] == "CRASHED"]
    return runs[0]["id"] if runs else None


def _completed_since(api: str, crashed_id: str) -> int:
    runs = flow_runs(api, "periodic")
    ids = [r["id"] for r in runs]
    later = runs[ids.index(crashed_id) + 1 :] if crashed_id in ids else []
    return sum(r["state_type"] == "COMPLETED" for r in later)


def _cpu_seconds(pid: int) -> float:
    # utime + stime of the worker and of the flow-run processes it has reaped (cutime + cstime).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    sys.exit(main())
