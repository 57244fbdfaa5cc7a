"""`duban bench`'s HTTP figure: a branch's to-do page under 50 concurrent clients, against a bare Starlette route.

The branch is the first grassroots unit of the bench tree. Besides the few tasks the bench's
fan-outs gave every branch, it gets one task per new member: an event-triggered definition
(`member.joined`) assigned to the branch and posted `EVENTS` times through the engine, so its
to-do holds more than a page and `GET /api/v1/tasks` (the caller's to-do, `limit=50`) serves a
full page of 50 with a real count. A staff account of the branch signs in once.

Both sides run under uvicorn on 127.0.0.1 (the same settings, the same number of server processes
on one socket each): the real app (`api.app.create_app` over the bench database, on the bench's
fixed clock) and the bare route of `duban.bench.bare_route`. The load comes from this process
(`duban.bench.load`): a warm-up, then `requests` requests per run, engine and bare alternating, best
of `repeat`. That is done at 1, 2 and N server processes (N: --http-workers, by default the machine's
cores), as `duban serve --workers N` runs them (one socket shared by the processes) and again, for
more than one, each process on a socket of its own (SO_REUSEPORT, as gunicorn's `--reuse-port`);
`by_workers` holds each round. The figure is the
one-process round's time per request (the inverse of throughput), held to 2x the bare route's, and
its p95 is held under 50 ms.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from duban.bench.load import Load, fetch, run_load
from duban.bench.report import measurement
from duban.bench.server import reuse_port_socket
from duban.bench.world import BenchOptions, World
from duban.engine.access.accounts import add_account
from duban.engine.access.actors import OPERATOR
from duban.engine.language.loader import parse_definition
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Task, Unit
from duban.engine.work.catalog import store_definitions
from duban.engine.work.fanout import assign_definition, post_event

HOST = "127.0.0.1"
PAGE = 50
CLIENTS = 50
EVENTS = 60  # new members posted to the branch: more than a page
P95_BAR_MS = 50.0
THROUGHPUT_BAR = 2.0  # time per request within 2x the bare route's: at least half its throughput
ACCOUNT = "bench-http-staff"
TARGET = f"/api/v1/tasks?limit={PAGE}"
ROOT = Path(__file__).resolve().parents[1]

MEMBER_DEF = """\
id: bench-member
title: 基准：新会员入会登记
title_en: "Bench: a new member's registration"
source: bench
applies_to: {levels: [grassroots]}
trigger: {event: member.joined, subject: none}
due: {after: P30D}
reminders: [P7D]
escalation:
  - {after: P0D, to: parent}
"""

NAME = "http"


def worker_counts(opts: BenchOptions) -> list[int]:
    """1, 2 and N server processes (N: --http-workers, else the machine's cores)."""
    return sorted({1, 2, opts.http_workers or os.cpu_count() or 1})


def steps(opts: BenchOptions) -> int:
    return len(worker_counts(opts))  # one per worker count; a count > 1 runs on both kinds of socket


@dataclass(frozen=True)
class Branch:
    """The unit whose to-do is served, and the account that asks for it."""

    code: str
    unit_id: int
    password: str
    unfinished: int


@dataclass(frozen=True)
class Server:
    kind: str
    port: int


def _branch(world: World) -> Branch:
    """Fill the first branch's to-do past a page through the engine, and give it a staff account."""
    rt, now = world.rt, world.rt.now()
    password = secrets.token_urlsafe(16)
    with read_session(world.engine) as s:
        code, unit_id = s.execute(
            select(Unit.code, Unit.id).where(Unit.level == "grassroots").order_by(Unit.code).limit(1)
        ).one()
    with write_session(world.engine) as s:
        store_definitions(s, now, OPERATOR, [parse_definition(MEMBER_DEF, "bench-member.yaml")])
        assign_definition(s, rt, OPERATOR, "bench-member", code)
        for n in range(EVENTS):
            post_event(s, rt, OPERATOR, "member.joined", code, subject=f"会员{n + 1:03d}")
        add_account(s, now, OPERATOR, ACCOUNT, code, "staff", password)
    with read_session(world.engine) as s:
        unfinished = s.scalar(
            select(func.count()).where(Task.unit_id == unit_id, Task.state.in_(["open", "submitted"]))
        )
    return Branch(code, unit_id, password, unfinished or 0)


@contextmanager
def _serve(
    kind: str, world: World, *extra: str, workers: int = 1, reuse_port: bool = False
) -> Iterator[Server]:
    """`workers` server processes on 127.0.0.1, an ephemeral port; stopped on the way out.

    They share one listening socket bound here, or (`reuse_port`) each listens on its own; the socket
    bound here then only holds the port (bound, never listening, it is handed no connection).
    """
    sock = reuse_port_socket() if reuse_port else socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    listen = ["--reuse-port", str(port)] if reuse_port else ["--fd", str(sock.fileno())]
    if not reuse_port:
        sock.listen(2048)
    procs: list[tuple[subprocess.Popen[bytes], Path, Path]] = []
    try:
        for n in range(workers):
            name = f"http-{kind}-{workers}{'-reuse-port' if reuse_port else ''}-{n}"
            log, ready = world.opts.workdir / f"{name}.log", world.opts.workdir / f"{name}.ready"
            ready.unlink(missing_ok=True)
            cmd = [
                sys.executable,
                "-m",
                "duban.bench.server",
                kind,
                *listen,
                "--url",
                world.url,
                "--at",
                world.rt.now().isoformat(),
                "--tz",
                str(world.rt.tz),
                "--data-dir",
                str(world.opts.workdir / "data"),
                "--ready",
                str(ready),
                *extra,
            ]
            with log.open("wb") as out:
                # The project root first on the path: the server runs this checkout's code, whatever the caller's cwd.
                proc = subprocess.Popen(
                    cmd,
                    pass_fds=[] if reuse_port else [sock.fileno()],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=ROOT,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            procs.append((proc, log, ready))
        if not reuse_port:
            sock.close()
        for proc, log, ready in procs:
            _wait_ready(proc, port, log, ready)
        sock.close()
        yield Server(kind, port)
    finally:
        sock.close()
        for proc, _, _ in procs:
            proc.terminate()
        for proc, _, _ in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(
    proc: subprocess.Popen[bytes], port: int, log: Path, ready: Path, limit: float = 60.0
) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"the bench server exited ({proc.returncode}): {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            if ready.exists():
                fetch(HOST, port, TARGET, {}, timeout=1.0)
                return
        except (OSError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"the bench server did not answer within {limit} s: {log.read_text(errors='replace')[-2000:]}"
    )


def _sign_in(server: Server, password: str) -> str:
    with httpx.Client(base_url=f"http://{HOST}:{server.port}", trust_env=False, timeout=30) as client:
        r = client.post("/api/v1/auth/token", data={"username": ACCOUNT, "password": password})
        r.raise_for_status()
        return str(r.json()["access_token"])


def _page(server: Server, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    status, body = fetch(HOST, server.port, TARGET, headers)
    return status, json.loads(body) if status == 200 else {}


def _best(runs: list[Load]) -> Load:
    return min(runs, key=lambda load: load.seconds / load.requests)


@dataclass
class Round:
    """One worker count's runs, both sides, and the page each side served first."""

    workers: int
    reuse_port: bool
    engine_runs: list[Load]
    bare_runs: list[Load]
    engine_page: tuple[int, dict[str, Any]]
    bare_page: tuple[int, dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        best, base = _best(self.engine_runs), _best(self.bare_runs)
        return {
            "workers": self.workers,
            "sockets": "one per process (SO_REUSEPORT)" if self.reuse_port else "one, shared",
            "engine": best.summary(),
            "bare": base.summary(),
            "throughput_vs_bare": round(base.seconds * best.requests / (best.seconds * base.requests), 3),
        }


def _round(world: World, branch: Branch, workers: int, reuse_port: bool = False) -> Round:
    """Both sides at `workers` server processes: a warm-up, then best of --repeat, alternating."""
    requests = world.opts.http_requests
    warm = max(CLIENTS, requests // 5)
    engine_runs: list[Load] = []
    bare_runs: list[Load] = []
    with ExitStack() as stack:
        app = stack.enter_context(_serve("engine", world, workers=workers, reuse_port=reuse_port))
        bare = stack.enter_context(
            _serve("bare", world, "--unit-id", str(branch.unit_id), workers=workers, reuse_port=reuse_port)
        )
        auth = {"Authorization": f"Bearer {_sign_in(app, branch.password)}"}
        engine_page, bare_page = _page(app, auth), _page(bare, {})
        run_load(HOST, app.port, TARGET, auth, warm, CLIENTS)
        run_load(HOST, bare.port, TARGET, {}, warm, CLIENTS)
        for _ in range(world.opts.repeat):
            engine_runs.append(run_load(HOST, app.port, TARGET, auth, requests, CLIENTS))
            bare_runs.append(run_load(HOST, bare.port, TARGET, {}, requests, CLIENTS))
    return Round(workers, reuse_port, engine_runs, bare_runs, engine_page, bare_page)


def measure(world: World) -> dict[str, Any]:
    """The `http` measurement: time per request of the engine's to-do route against the bare route's."""
    requests = world.opts.http_requests
    world.step("http: a branch's to-do under load, 1 server process")
    branch = _branch(world)
    rounds = []
    for workers in worker_counts(world.opts):
        if workers > 1:
            world.step(f"http: a branch's to-do under load, {workers} server processes")
        rounds.append(_round(world, branch, workers))
        if workers > 1:
            rounds.append(_round(world, branch, workers, reuse_port=True))
    one = rounds[0]
    (engine_status, engine_page), (bare_status, bare_page) = one.engine_page, one.bare_page
    best, base = _best(one.engine_runs), _best(one.bare_runs)
    engine_ids = [item["id"] for item in engine_page.get("items", [])]
    bare_ids = [item["id"] for item in bare_page.get("items", [])]
    all_ok = all(set(load.statuses) == {200} for r in rounds for load in (*r.engine_runs, *r.bare_runs))
    same_pages = all(r.engine_page == one.engine_page and r.bare_page == one.bare_page for r in rounds)
    p95_pass = best.percentile_ms(0.95) < P95_BAR_MS
    doc = measurement(
        NAME,
        best.seconds / best.requests,
        "bare Starlette route, the same SQL on the driver",
        base.seconds / base.requests,
        THROUGHPUT_BAR,
        requests=requests,
        clients=CLIENTS,
        unit=branch.code,
        unfinished_tasks=branch.unfinished,
        page_status=engine_status,
        page_items=len(engine_ids),
        page_total=engine_page.get("total"),
        page_ids=engine_ids,
        baseline_page_status=bare_status,
        baseline_page_ids=bare_ids,
        page_ids_match=engine_ids == bare_ids,
        same_document=engine_page == bare_page,
        engine=best.summary(),
        bare=base.summary(),
        p50_ms=best.percentile_ms(0.50),
        p95_ms=best.percentile_ms(0.95),
        p95_bar_ms=P95_BAR_MS,
        p95_pass=p95_pass,
        throughput_rps=round(best.requests / best.seconds, 1),
        baseline_throughput_rps=round(base.requests / base.seconds, 1),
        throughput_vs_bare=round(base.seconds * best.requests / (best.seconds * base.requests), 3),
        all_status_200=all_ok,
        same_page_at_every_worker_count=same_pages,
        server="uvicorn, 1 worker per side",
        by_workers=[r.summary() for r in rounds],
        cores=os.cpu_count(),
        runs=[load.summary() for load in one.engine_runs],
        baseline_runs=[load.summary() for load in one.bare_runs],
    )
    doc["pass"] = (
        doc["pass"]
        and p95_pass
        and all_ok
        and same_pages
        and engine_ids == bare_ids
        and len(engine_ids) == PAGE
    )
    return doc
