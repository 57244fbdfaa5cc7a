"""Preview in the API and the web page says when a deadline moved off a rest day or its date had passed."""

from __future__ import annotations

import re
from typing import Any

from conftest import PASSWORD, World, sign_in
from fastapi.testclient import TestClient

from duban.engine.access.actors import OPERATOR
from duban.engine.language.loader import parse_definition
from duban.engine.store.db import write_session
from duban.engine.work.catalog import store_definitions

HEAD = "title: 测试\ntitle_en: Test\nsource: test\napplies_to: {levels: [grassroots]}\n"


def csrf_of(client: TestClient) -> str:
    """The session's form token, as every page's form carries it."""
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/ui").text)
    assert found is not None
    return found.group(1)


def add(world: World, replay: Any) -> None:
    loaded = [
        parse_definition(f"id: double-display\n{HEAD}trigger: assigned\ndue: {{after: P3M}}\n", "a.yaml"),
        parse_definition(f'id: womens-day\n{HEAD}trigger: {{every: year}}\ndue: {{on: "03-08"}}\n', "b.yaml"),
    ]
    with write_session(world.db) as s:
        store_definitions(s, replay.rt.now(), OPERATOR, loaded)


def test_the_preview_says_what_moved_and_what_passed(
    world: World, replay: Any, client: TestClient, backend: str
) -> None:
    add(world, replay)
    replay.at("2026-01-05T09:00")
    headers = sign_in(client, "k01-admin")
    r = client.post(
        "/api/v1/assignments/preview", json={"definition": "double-display", "scope": "K01"}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["timeline"]["due_moved_from"] == "2026-04-05"
    assert r.json()["timeline"]["due_at"] == "2026-04-07T23:59:59+08:00"

    replay.at("2026-03-12T10:00")
    headers = sign_in(client, "k01-admin")
    body = {"definition": "womens-day", "scope": "K01", "late": "skip"}
    r = client.post("/api/v1/assignments/preview", json=body, headers=headers)
    assert r.status_code == 200 and r.json()["period"] == "2027"
    assert r.json()["timeline"]["late_assignment"]["missed_due"] == "2026-03-08"
    r = client.post("/api/v1/assignments", json=body | {"late": "grace:soon"}, headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "late"
    r = client.post("/api/v1/assignments", json=body | {"late": "grace:P10D"}, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["due_at"] == "2026-03-23T23:59:59+08:00"
    assert r.json()["late_assignment"]["rule"] == "grace"

    client.post("/login", data={"username": "k01-admin", "password": PASSWORD})
    page = client.post(
        "/ui/assign",
        data={"definition": "womens-day", "scope": "K01", "action": "preview", "csrf": csrf_of(client)},
    )
    assert page.status_code == 200 and 'id="late"' in page.text and "已过" in page.text
    replay.at("2026-01-05T09:00")
    client.post("/login", data={"username": "k01-admin", "password": PASSWORD})
    page = client.post(
        "/ui/assign",
        data={"definition": "double-display", "scope": "K01", "action": "preview", "csrf": csrf_of(client)},
    )
    assert 'id="moved"' in page.text and "顺延" in page.text and "2026年4月5日" in page.text
