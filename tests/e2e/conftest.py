"""End-to-end fixtures: the sample tree plus a second city, one account per unit and role, and the app.

`world` builds the database through the engine's own services; `client` is a
TestClient on create_app over that database with the test's fixed clock.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from duban.api.app import create_app
from duban.engine.access.accounts import add_account
from duban.engine.access.actors import OPERATOR
from duban.engine.language.loader import load_paths, parse_definition
from duban.engine.org.units import import_units
from duban.engine.store.db import write_session
from duban.engine.store.models import Account, Unit
from duban.engine.work.catalog import store_definitions
from duban.settings import Settings

FIXTURES = Path(__file__).parent.parent / "fixtures"
PASSWORD = "password123"
UNITS = ("C01", "K01", "K02", "T01", "T02", "G01", "G02", "G03", "G04", "S01", "C02", "X01")
ROLES = ("admin", "staff", "viewer")
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64

# One township task, approved by the parent: the target of the permission matrix.
MATRIX_DEF = """\
id: matrix-check
title: 矩阵检查
title_en: Matrix check
source: "测试"
applies_to: {levels: [township]}
trigger: assigned
due: {after: P30D}
completion:
  form:
    note: {type: string}
  attachments: {min: 0}
approval: [parent]
"""

# A branch's own task with a form, done without approval: the browser test's task.
FORM_DEF = """\
id: plaque-check
title: 工会挂牌检查
title_en: Union plaque check
source: "测试"
applies_to: {levels: [grassroots]}
trigger: assigned
due: {after: P10D}
completion:
  form:
    shown_on: {type: date, required: true}
    chair_name: {type: string, required: true}
"""


@dataclass
class World:
    db: Engine
    rt: Any
    tmp: Path


@pytest.fixture
def world(db: Engine, replay: Any, tmp_path: Path) -> World:
    """Units (two cities), the test definitions, and `<code>-<role>` accounts with one password."""
    csv = tmp_path / "tree.csv"
    csv.write_text(
        (FIXTURES / "tree.csv").read_text(encoding="utf-8")
        + "C02,广州市总工会,,municipal,,\nX01,越秀区总工会,C02,county,,\n",
        encoding="utf-8",
    )
    with write_session(db) as s:
        now = replay.rt.now()
        import_units(s, now, OPERATOR, csv)
        loaded = [
            *load_paths([FIXTURES / "defs"]),
            parse_definition(MATRIX_DEF, "matrix.yaml"),
            parse_definition(FORM_DEF, "plaque.yaml"),
        ]
        store_definitions(s, now, OPERATOR, loaded)
        first = add_account(s, now, OPERATOR, "c01-admin", "C01", "admin", PASSWORD)
        ids = dict(s.execute(select(Unit.code, Unit.id)).all())
        s.execute(
            insert(Account.__table__),
            [
                {
                    "name": f"{code.lower()}-{role}",
                    "unit_id": ids[code],
                    "role": role,
                    "password_hash": first.password_hash,
                    "active": True,
                    "created_at": now,
                }
                for code in UNITS
                for role in ROLES
                if (code, role) != ("C01", "admin")
            ],
        )
    # The app's runtime shares the test's clock; uploads are capped at 1 MB to test the cap.
    return World(db, dataclasses.replace(replay.rt, max_upload_bytes=1024 * 1024), tmp_path)


def settings_for(tmp: Path, **overrides: Any) -> Settings:
    return Settings(database_url="sqlite:///unused.db", data_dir=tmp / "data", **overrides)


@pytest.fixture
def app(world: World) -> Any:
    return create_app(settings_for(world.tmp, max_upload_mb=1), engine=world.db, runtime=world.rt)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization headers for an account."""
    r = client.post("/api/v1/auth/token", data={"username": name, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


# The browser tests: Debian's Chromium through Playwright, against the app under uvicorn.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(world: World, backend: str) -> Iterator[str]:
    app = create_app(settings_for(world.tmp), engine=world.db, runtime=world.rt)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(5)
