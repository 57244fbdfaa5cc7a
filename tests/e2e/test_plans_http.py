"""Plans over HTTP, in the API and on the 布置任务 page: listed, previewed item by item, assigned whole or refused whole."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import PASSWORD, World, settings_for, sign_in
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
def plans_app(world: World) -> Any:
    """The app over a folder of two plans: one whole, one naming an item that was never loaded."""
    folder = world.tmp / "plans"
    folder.mkdir()
    (folder / "a.yaml").write_text(PLAN, encoding="utf-8")
    broken = PLAN.replace("township-checks", "broken-plan").replace(
        "plaque-check]", "plaque-check, no-such-item]"
    )
    (folder / "b.yaml").write_text(
        broken.replace("title: 街道检查计划", "title: 有缺项的计划"), encoding="utf-8"
    )
    return create_app(settings_for(world.tmp, plans_dir=folder), engine=world.db, runtime=world.rt)


@pytest.fixture
def plans_client(plans_app: Any) -> Iterator[TestClient]:
    with TestClient(plans_app) as c:
        yield c


@pytest.fixture
def web(plans_app: Any) -> Iterator[TestClient]:
    """A browser-like client signed in as the county's admin."""
    with TestClient(plans_app) as c:
        r = c.post("/login", data={"username": "k01-admin", "password": PASSWORD}, follow_redirects=False)
        assert r.status_code == 303
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
    assert [p["id"] for p in listed] == ["township-checks", "broken-plan"]  # by file name
    assert listed[0] | {"items": None} == {
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


def csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/ui/assign").text)
    assert found
    return found.group(1)


def test_a_plan_is_previewed_item_by_item_then_assigned_whole(world: World, web: TestClient) -> None:
    page = web.get("/ui/assign").text
    assert "按计划整体布置" in page and "街道检查计划（2 项）" in page
    form = {"csrf": csrf(web), "plan": "township-checks", "scope": "K01", "action": "preview"}
    preview = web.post("/ui/assign/plan", data=form).text
    assert "将下达 2 项事项，共创建 3 项任务" in preview
    assert "矩阵检查" in preview and "工会挂牌检查" in preview and "matrix-check</td>" not in preview
    assert counts(world)[:2] == (0, 0)
    r = web.post("/ui/assign/plan", data=form | {"action": "create"}, follow_redirects=False)
    assert r.status_code == 303
    assert "已按计划下达 2 项事项，创建了 3 项任务" in web.get(r.headers["location"]).text
    assert counts(world)[:2] == (2, 3)
    # Again to the same scope: named, and not repeated without the tick.
    again = web.post("/ui/assign/plan", data=form | {"action": "create"})
    assert 'id="plan-repeated"' in again.text and "其中 2 项已向这个范围下达过" in again.text
    assert counts(world)[:2] == (2, 3)


def test_a_refused_item_is_named_by_its_title_and_nothing_is_assigned(world: World, web: TestClient) -> None:
    form = {"csrf": csrf(web), "plan": "broken-plan", "scope": "K01", "action": "create"}
    r = web.post("/ui/assign/plan", data=form)
    assert r.status_code == 422 and 'id="refused"' in r.text
    assert "no-such-item：" in r.text  # an item not loaded has no title to show: its id says which
    assert counts(world)[:2] == (0, 0)
    # An item whose date the plan leaves to the assigner, assigned without one, is named by its title.
    from duban.engine.access.actors import OPERATOR
    from duban.engine.language.loader import parse_definition
    from duban.engine.store.db import write_session
    from duban.engine.work.catalog import store_definitions

    dated = "id: dated-item\ntitle: 择期检查\ntrigger: assigned\ndue: set_at_assignment\napplies_to: {levels: [township]}\n"
    with write_session(world.db) as s:
        store_definitions(s, world.rt.now(), OPERATOR, [parse_definition(dated, "dated.yaml")])
    folder = world.tmp / "plans"
    (folder / "c.yaml").write_text(
        PLAN.replace("township-checks", "dated-plan").replace("plaque-check]", "dated-item]"),
        encoding="utf-8",
    )
    r = web.post("/ui/assign/plan", data=form | {"plan": "dated-plan"})
    assert (
        r.status_code == 422
        and "择期检查：计划未定日期（择期），请填写日期" in r.text
        and "dated-item" not in r.text.split('id="refused"')[1].split("</div>")[0]
    )
    assert counts(world)[:2] == (0, 0)
    r = web.post(
        "/ui/assign/plan", data=form | {"plan": "dated-plan", "due": "2026-06-30"}, follow_redirects=False
    )
    assert r.status_code == 303 and counts(world)[:2] == (2, 2)
    r = web.post("/ui/assign/plan", data=form | {"plan": "township-checks", "scope": "X01"})
    assert r.status_code == 404 and "不在您的管辖范围内" in r.text
    assert counts(world)[:2] == (2, 2)
