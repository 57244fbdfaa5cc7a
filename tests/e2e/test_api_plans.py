"""Plans over HTTP: the deployment's plans listed, one assigned whole or refused whole."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import World, settings_for, sign_in
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from duban.api.app import create_app
from duban.engine.store.db import read_session
from duban.engine.store.models import Assignment, Audit, Task

PLAN = """\
id: township-checks
title: 街道检查计划
title_en: Township checks
source_document: 测试文件
year: 2026
items: [matrix-check, plaque-check]
"""


@pytest.fixture
def plans_client(world: World) -> Iterator[TestClient]:
    folder = world.tmp / "plans"
    folder.mkdir()
    (folder / "township-checks.yaml").write_text(PLAN, encoding="utf-8")
    (folder / "broken-plan.yaml").write_text(
        PLAN.replace("township-checks", "broken-plan").replace(
            "plaque-check]", "plaque-check, no-such-item]"
        ),
        encoding="utf-8",
    )
    app = create_app(settings_for(world.tmp, plans_dir=folder), engine=world.db, runtime=world.rt)
    with TestClient(app) as c:
        yield c


def counts(world: World) -> tuple[int, int, int]:
    with read_session(world.db) as s:
        return (
            s.scalar(select(func.count()).select_from(Assignment)) or 0,
            s.scalar(select(func.count()).select_from(Task)) or 0,
            s.scalar(select(func.count()).select_from(Audit).where(Audit.action == "plan.assigned")) or 0,
        )


def test_a_plan_is_listed_and_assigned_whole(world: World, plans_client: TestClient) -> None:
    admin = sign_in(plans_client, "k01-admin")
    listed = plans_client.get("/api/v1/plans", headers=sign_in(plans_client, "g01-viewer")).json()
    assert [p["id"] for p in listed] == ["broken-plan", "township-checks"]
    assert listed[1] | {"items": None} == {
        "id": "township-checks",
        "title": "街道检查计划",
        "title_en": "Township checks",
        "source_document": "测试文件",
        "year": 2026,
        "items": None,
    }
    r = plans_client.post("/api/v1/plans/township-checks/assign", headers=admin, json={"scope": "K01"})
    assert r.status_code == 201, r.text
    body = r.json()
    # matrix-check reaches K01's one township; plaque-check its two grassroots unions.
    assert body["plan"] == "township-checks" and body["scope"] == "K01" and body["created"] == 3
    assert [i["definition"] for i in body["items"]] == ["matrix-check", "plaque-check"]
    assert counts(world) == (2, 3, 1)
    with read_session(world.db) as s:
        assert set(s.scalars(select(Assignment.plan_id))) == {"township-checks"}


def test_a_plan_with_a_refused_item_assigns_nothing_and_names_it(
    world: World, plans_client: TestClient
) -> None:
    admin = sign_in(plans_client, "k01-admin")
    r = plans_client.post("/api/v1/plans/broken-plan/assign", headers=admin, json={"scope": "K01"})
    assert r.status_code == 422
    assert [e["where"] for e in r.json()["errors"]] == ["broken-plan: no-such-item"]
    assert counts(world) == (0, 0, 0)


@pytest.mark.parametrize(
    ("account", "plan", "scope", "status"),
    [
        ("k01-admin", "no-such-plan", "K01", 404),
        ("k01-admin", "township-checks", "X01", 404),  # another city
        ("k01-staff", "township-checks", "K01", 403),
        ("k01-admin", "..", "K01", 404),
    ],
)
def test_refusals(
    world: World, plans_client: TestClient, account: str, plan: str, scope: str, status: int
) -> None:
    r = plans_client.post(
        f"/api/v1/plans/{plan}/assign", headers=sign_in(plans_client, account), json={"scope": scope}
    )
    assert r.status_code == status, r.text
    assert counts(world) == (0, 0, 0)


def test_the_shipped_plans_by_default(client: TestClient, backend: Any) -> None:
    listed = client.get("/api/v1/plans", headers=sign_in(client, "g01-viewer")).json()
    assert len(listed) == 3 and "city-union-opinions" in {p["id"] for p in listed}
