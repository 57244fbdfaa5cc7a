"""The server's log lines: a request id on every line of a request, JSON lines on demand, no credentials."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from duban.engine.access.accounts import add_account
from duban.engine.access.actors import OPERATOR
from duban.engine.store.db import write_session
from duban.flows.schedule import periodic_job
from duban.logs import LOGGERS, configure

PASSWORD = "Old-Secret-Pass-1"
NEW_PASSWORD = "New-Secret-Pass-2"


@pytest.fixture(params=["text", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[tuple[str, io.StringIO]]:
    stream = io.StringIO()
    handler = configure(request.param, stream)
    yield request.param, stream
    for name in LOGGERS:
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).propagate = True


def _lines(fmt: str, stream: io.StringIO) -> list[Any]:
    text = stream.getvalue().splitlines()
    return [json.loads(line) for line in text] if fmt == "json" else text


def test_no_password_token_or_cookie_reaches_the_log(
    world: Any, app: Any, captured: tuple[str, io.StringIO]
) -> None:
    fmt, stream = captured
    with write_session(world.db) as s:
        add_account(s, world.rt.now(), OPERATOR, "log-staff", "G01", "staff", PASSWORD)

    def boom() -> None:
        raise RuntimeError(f"failed with Authorization: Bearer leaked-token password={PASSWORD}")

    app.add_api_route("/api/v1/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": "log-staff", "password": PASSWORD}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        cookie = {"Cookie": f"duban_session={token}"}
        assert client.get(f"/api/v1/tasks?access_token={token}", headers=auth).status_code == 200
        assert client.get("/ui/", headers=cookie).status_code in (200, 303)
        assert client.get("/api/v1/boom", headers=auth).status_code == 500
        changed = client.post(
            "/api/v1/auth/password",
            json={"old_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=auth,
        )
        assert changed.status_code == 200, changed.text
    text = stream.getvalue()
    assert "/api/v1/auth/password" in text and "RuntimeError" in text  # the lines were written
    for secret in (PASSWORD, NEW_PASSWORD, token, "leaked-token"):
        assert secret not in text, fmt
    assert "Authorization" not in text or "Bearer ***" in text
    lines = _lines(fmt, stream)
    if fmt == "json":
        access = [d for d in lines if d["logger"] == "duban.access"]
        assert {d["path"] for d in access} >= {"/api/v1/tasks", "/api/v1/auth/token", "/api/v1/auth/password"}
        assert all(
            {"time", "level", "message", "request_id", "method", "status", "duration_ms"} <= set(d)
            for d in access
        )


def test_every_line_of_a_request_carries_its_id(
    world: Any, app: Any, captured: tuple[str, io.StringIO]
) -> None:
    fmt, stream = captured

    def boom() -> None:
        logging.getLogger("duban.api").warning("about to fail")
        raise RuntimeError("failed")

    app.add_api_route("/api/v1/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        given = client.get("/healthz", headers={"X-Request-ID": "proxy-1234-abcd"})
        assert given.headers["x-request-id"] == "proxy-1234-abcd"
        for bad in ("x" * 200, "a b\r\nforged", "short"):
            r = client.get("/healthz", headers={"X-Request-ID": bad})
            assert r.headers["x-request-id"] != bad and len(r.headers["x-request-id"]) == 32
        failed = client.get("/api/v1/boom")
        assert failed.status_code == 500
    rid = failed.headers["x-request-id"]
    lines = _lines(fmt, stream)
    if fmt == "json":
        mine = [d for d in lines if d.get("request_id") == rid]
        assert {d["logger"] for d in mine} == {"duban.api", "duban.access"}
        assert len(mine) == 3  # the route's warning, the error with its traceback, the access line
        assert any("exception" in d for d in mine)
        assert "forged" not in json.dumps(lines)
    else:
        mine = [line for line in lines if f"[{rid}]" in line]
        assert len(mine) == 3 and any("about to fail" in line for line in mine)
        assert any(line.endswith(" ms") and "GET /api/v1/boom 500" in line for line in mine)


def test_the_schedulers_lines_come_out_in_the_format(world: Any, captured: tuple[str, io.StringIO]) -> None:
    fmt, stream = captured
    periodic_job(world.db, lambda: world.rt, True, None)
    lines = _lines(fmt, stream)
    assert len(lines) == 1
    if fmt == "json":
        assert lines[0]["logger"] == "duban.scheduler" and lines[0]["message"].startswith("sweep at ")
        assert "request_id" not in lines[0]
    else:
        assert " duban.scheduler " in lines[0] and "sweep at " in lines[0]
