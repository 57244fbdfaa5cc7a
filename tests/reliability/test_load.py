"""Serve plus sweep plus an import under load, on SQLite: every request answered without an error.

`duban serve` runs as an operator runs it (its own process, JSON logs, the embedded scheduler
sweeping every two seconds and delivering every second) over a province-shaped world, its clock
the day after the assignment. While clients sign in and do a branch's and its approver's day
(to-do, task page, evidence, approval, report), two `duban sweep` processes three months later
work through every reminder and escalation of the world, the scheduler reconciles and delivers
what they and the clients cause, and a units import and a people import land. Afterwards: no
5xx, no lock error, no traceback in any log, no password in the server's log; every move has its
one audit row, every notice its audit row and the reverse, each imported unit its tasks once.
The latency figures are printed (`-s`), not asserted: machines are noisy.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from reliability_world import ASSIGNED, LONG, consistent, runtime_at, sweep_command
from sqlalchemy import Engine, func, select

from duban.bench.load import Load
from duban.bench.tree import province_csv
from duban.engine.access.accounts import add_account
from duban.engine.access.actors import OPERATOR
from duban.engine.language.loader import parse_definition
from duban.engine.org.units import import_units
from duban.engine.store.db import make_engine, read_session, write_session
from duban.engine.store.models import Audit, Notification, Person, Task, Unit
from duban.engine.store.schema import upgrade
from duban.engine.work import catalog, fanout

UNITS = 5000 if LONG else 1200
CLIENTS = 40 if LONG else 20
# Reads each client makes after its moves at least; it goes on reading until the writers are done.
READS = 40 if LONG else 6
ADDED = 1000 if LONG else 200  # grassroots units (and people) the imports add while the load runs
PASSWORD = "load-test-password-1"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
HOST = "127.0.0.1"
# The server's clock: the day after the assignment, nothing due yet. The sweep processes run at SWEEP_AT.
SERVE_AT = ASSIGNED + timedelta(days=1)
DEFINITIONS = ("load-approved", "load-second")

APPROVED = """\
id: load-approved
title: 负载检查
title_en: Load check
source: "测试"
applies_to: {levels: [grassroots]}
trigger: assigned
due: {after: P10D}
reminders: [P7D, P3D, P1D]
escalation:
  - {after: P0D, to: parent}
  - {after: P7D, to: grandparent}
completion:
  attachments: {min: 1, max: 2}
approval: [parent]
"""
SECOND = (
    APPROVED.replace("load-approved", "load-second")
    .replace("负载检查", "负载复查")
    .replace("Load check", "Load recheck")
)


@dataclass(frozen=True)
class Seat:
    """One client: a branch's staff account and its township's admin account."""

    staff: str
    admin: str
    township: str


@dataclass
class Seen:
    """What the clients saw: latencies by kind of request, statuses, failures, the moves they made."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    approved: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, kind: str, seconds: float, status: int) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            self.statuses[status] += 1

    def load(self, seconds: float, kind: str | None = None) -> Load:
        times = [t for k, ts in self.latencies.items() if kind in (None, k) for t in ts]
        return Load(times, Counter(), seconds)


def _world(tmp: Path) -> tuple[str, list[Seat]]:
    """The tree, two definitions with approval assigned to every branch, accounts for the clients."""
    url = f"sqlite:///{tmp / 'load.db'}"
    engine = make_engine(url)
    upgrade(engine)
    tree = tmp / "tree.csv"
    province_csv(tree, UNITS)
    rt = runtime_at(ASSIGNED, tmp / "data")
    with write_session(engine) as s:
        import_units(s, rt.now(), OPERATOR, tree)
        defs = [parse_definition(APPROVED, "a.yaml"), parse_definition(SECOND, "b.yaml")]
        catalog.store_definitions(s, rt.now(), OPERATOR, defs)
    with write_session(engine) as s:
        for name in DEFINITIONS:
            fanout.assign_definition(s, rt, OPERATOR, name, "GD")
    seats: list[Seat] = []
    with write_session(engine) as s:
        code_of = {i: c for i, c in s.execute(select(Unit.id, Unit.code))}
        branches = s.execute(
            select(Unit.code, Unit.parent_id)
            .where(Unit.level == "grassroots")
            .order_by(Unit.code)
            .limit(CLIENTS)
        ).all()
        admins: set[str] = set()
        for i, (code, parent_id) in enumerate(branches):
            township = code_of[parent_id]
            add_account(s, rt.now(), OPERATOR, f"load-staff-{i}", code, "staff", PASSWORD)
            if township not in admins:
                add_account(s, rt.now(), OPERATOR, f"load-admin-{township}", township, "admin", PASSWORD)
                admins.add(township)
            seats.append(Seat(f"load-staff-{i}", f"load-admin-{township}", township))
    engine.dispose()
    return url, seats


def _import_files(tmp: Path) -> tuple[Path, Path]:
    """ADDED new branches under the first townships, and a person in each."""
    units, people = tmp / "added.csv", tmp / "people.csv"
    with (
        units.open("w", newline="", encoding="utf-8") as u,
        people.open("w", newline="", encoding="utf-8") as p,
    ):
        uw, pw = csv.writer(u), csv.writer(p)
        uw.writerow(["code", "name", "parent_code", "level", "tags", "attrs"])
        pw.writerow(["id", "name", "unit_code", "kind"])
        for i in range(ADDED):
            code = f"GD-N{i:05d}"
            uw.writerow([code, f"新建基层工会{i}", f"GD-T{i % 40:04d}", "grassroots", "enterprise", ""])
            pw.writerow([f"P{i:05d}", f"会员{i}", code, "member"])
    return units, people


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _cli(url: str, at: datetime = SERVE_AT) -> list[str]:
    return [sys.executable, "-m", "duban.cli.main", "--db", url, "--now", at.isoformat()]


def _wait_ready(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            if httpx.get(f"{base}/healthz", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"the server did not answer: {log.read_text(errors='replace')[-3000:]}")


class Client:
    """One person at a keyboard, as fast as the server lets them: a keep-alive connection, timed calls."""

    def __init__(self, base: str, seen: Seen) -> None:
        self.http = httpx.Client(base_url=base, trust_env=False, timeout=120)
        self.seen = seen

    def call(self, kind: str, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        started = time.perf_counter()
        try:
            r = self.http.request(method, path, headers=headers, **kw)
        except httpx.HTTPError as exc:
            with self.seen.lock:
                self.seen.failures.append(f"{kind} {path}: {type(exc).__name__} {exc}")
            return None
        self.seen.note(kind, time.perf_counter() - started, r.status_code)
        if r.status_code != 200:
            with self.seen.lock:
                self.seen.failures.append(f"{kind} {path}: {r.status_code} {r.text[:300]}")
            return None
        return r.json() if "json" in r.headers.get("content-type", "") else r.content

    def sign_in(self, name: str) -> str:
        doc = self.call(
            "sign-in", "POST", "/api/v1/auth/token", data={"username": name, "password": PASSWORD}
        )
        return str(doc["access_token"]) if doc else ""


def _day(base: str, seat: Seat, seen: Seen, writers_done: threading.Event) -> None:
    """A branch submits its two tasks with evidence, its township approves them, then both keep reading."""
    c = Client(base, seen)
    try:
        staff, admin = c.sign_in(seat.staff), c.sign_in(seat.admin)
        todo = c.call("to-do", "GET", "/api/v1/tasks", staff) or {"items": []}
        for item in todo["items"]:
            task = f"/api/v1/tasks/{item['id']}"
            c.call("task page", "GET", task, staff)
            files = [("files", ("evidence.png", PNG, "image/png"))]
            c.call("submit", "POST", f"{task}/submit", staff, data={"form": "{}"}, files=files)
            c.call("task page", "GET", task, admin)
            if c.call("approve", "POST", f"{task}/approve", admin, json={"reason": "材料齐全"}):
                with seen.lock:
                    seen.approved.append(item["id"])
        reads = 0
        while reads < READS or not writers_done.is_set():
            c.call("to-do", "GET", "/api/v1/tasks", staff)
            c.call("report", "GET", f"/api/v1/units/{seat.township}/report", admin)
            reads += 1
    finally:
        c.http.close()


def _writers(url: str, tmp: Path, env: dict[str, str], outcomes: list[tuple[str, int, str, float]]) -> None:
    """Beside the scheduler: `duban sweep` processes, and the two imports, all at once."""
    units, people = _import_files(tmp)

    def run(name: str, cmd: list[str]) -> None:
        started = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        outcomes.append((name, done.returncode, done.stdout + done.stderr, time.monotonic() - started))

    def imports() -> None:
        # A minute after the server's pinned clock: the units change after the scheduler last looked.
        later = SERVE_AT + timedelta(minutes=1)
        run("units import", [*_cli(url, later), "units", "import", str(units)])
        run("people import", [*_cli(url, later), "people", "import", str(people)])

    def sweep() -> None:
        run("sweep", [*sweep_command(url), "--json"])

    threads = [threading.Thread(target=f) for f in (imports, sweep, sweep)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _figures(seen: Seen, seconds: float) -> dict[str, Any]:
    every = seen.load(seconds)
    return {
        "units": UNITS,
        "clients": CLIENTS,
        "requests": every.requests,
        "seconds": round(seconds, 1),
        "throughput_rps": round(every.requests / seconds, 1),
        "p50_ms": every.percentile_ms(0.50),
        "p95_ms": every.percentile_ms(0.95),
        "p99_ms": every.percentile_ms(0.99),
        "max_ms": round(max(every.latencies) * 1000, 1),
        "p95_ms_but_sign_in": Load(
            [t for k, ts in seen.latencies.items() if k != "sign-in" for t in ts], Counter(), seconds
        ).percentile_ms(0.95),
        "p95_ms_by_kind": {k: seen.load(seconds, k).percentile_ms(0.95) for k in sorted(seen.latencies)},
        "requests_by_kind": {k: len(v) for k, v in sorted(seen.latencies.items())},
        "statuses": dict(seen.statuses),
    }


def _check_rows(engine: Engine, approved: list[int]) -> None:
    """Every move once in the audit, every notice with its audit row, the imports' units with their tasks."""
    with read_session(engine) as s:
        moves = Counter(
            (r.task_id, r.action)
            for r in s.execute(
                select(Audit.task_id, Audit.action).where(
                    Audit.action.in_(("task.submitted", "task.approved"))
                )
            )
        )
        assert set(moves.values()) == {1}, "a move with more than one audit row"
        actions = Counter(
            (r.task_id, r.action, r.payload.get("step", r.payload.get("level")))
            for r in s.execute(
                select(Audit.task_id, Audit.action, Audit.payload).where(
                    Audit.action.in_(("task.reminded", "task.reminder_skipped", "task.escalated"))
                )
            )
        )
        assert actions and set(actions.values()) == {1}, "a reminder or escalation handled twice"
        assert {t for t, _ in moves} == set(approved)
        states = set(s.scalars(select(Task.state).where(Task.id.in_(approved))))
        assert states == {"done"}
        heard = s.execute(select(func.count(), func.count(func.distinct(Notification.dedupe_key)))).one()
        assert heard[0] == heard[1] and heard[0] > 0
        added = select(Unit.id).where(Unit.code.like("GD-N%"))
        assert s.scalar(select(func.count()).select_from(added.subquery())) == ADDED
        per_unit = Counter(s.scalars(select(Task.unit_id).where(Task.unit_id.in_(added))))
        assert len(per_unit) == ADDED and set(per_unit.values()) == {len(DEFINITIONS)}
        created = s.scalar(
            select(func.count()).where(Audit.action == "task.created", Audit.unit_id.in_(added))
        )
        assert created == ADDED * len(DEFINITIONS)
        assert s.scalar(select(func.count()).select_from(Person)) == ADDED
    consistent(engine)


def test_serve_sweep_and_imports_under_load_answer_every_request(tmp_path: Path) -> None:
    url, seats = _world(tmp_path)
    env = {
        **os.environ,
        "DUBAN_DATA_DIR": str(tmp_path / "data"),
        "DUBAN_SWEEP_SECONDS": "2",
        "DUBAN_DELIVER_SECONDS": "1",
        "DUBAN_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    port = _free_port()
    base = f"http://{HOST}:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*_cli(url), "serve", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    seen = Seen()
    outcomes: list[tuple[str, int, str, float]] = []
    writers_done = threading.Event()
    try:
        _wait_ready(base, server, log)
        started = time.monotonic()
        clients = [threading.Thread(target=_day, args=(base, seat, seen, writers_done)) for seat in seats]
        for t in clients:
            t.start()
        _writers(url, tmp_path, env, outcomes)
        writers_done.set()
        for t in clients:
            t.join()
        seconds = time.monotonic() - started
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    text = log.read_text(errors="replace")
    figures = _figures(seen, seconds)
    figures["writers_s"] = {f"{name} {i}": round(took, 1) for i, (name, _, _, took) in enumerate(outcomes)}
    figures["sweep_processes"] = [
        {k: v for k, v in json.loads(out).items() if k in ("reminders_sent", "escalations", "tasks_touched")}
        for name, code, out, _ in outcomes
        if name == "sweep" and code == 0
    ]
    figures["scheduler_runs"] = text.count('"logger": "duban.scheduler"')
    print("\nload:", json.dumps(figures, ensure_ascii=False))
    (tmp_path / "figures.json").write_text(json.dumps(figures, ensure_ascii=False, indent=1))

    assert seen.failures == [], seen.failures[:10]
    assert set(seen.statuses) == {200}
    assert len(seen.approved) == len(seats) * len(DEFINITIONS)
    for name, code, output, _ in outcomes:
        assert code == 0, f"{name}: {output[-2000:]}"
        assert "locked" not in output.lower(), f"{name}: {output[-2000:]}"
    lines = [json.loads(line) for line in text.splitlines()]  # every line of the server is a JSON object
    for bad in ("Traceback", "database is locked", "stayed locked", PASSWORD):
        assert bad not in text, text[text.find(bad) - 1500 : text.find(bad) + 1500]
    assert not [d for d in lines if d["level"] in ("ERROR", "CRITICAL")]
    served = [d for d in lines if d["logger"] == "duban.access"]
    assert len(served) >= len(seen.latencies["sign-in"]) and all(d.get("request_id") for d in served)
    assert any(
        d["logger"] == "duban.scheduler" for d in lines
    )  # the scheduler swept while the clients worked

    swept = [json.loads(out) for name, _, out, _ in outcomes if name == "sweep"]
    assert sum(r["escalations"] for r in swept) > len(seats)  # the sweeps had real work under the load
    # Then one more: whatever is still due (the imported units' tasks) is done, and nothing twice.
    subprocess.run([*sweep_command(url), "--json"], capture_output=True, text=True, env=env, check=True)
    engine = make_engine(url)
    try:
        _check_rows(engine, seen.approved)
    finally:
        engine.dispose()
