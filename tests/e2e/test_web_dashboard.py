"""进度总览: the page renders from the counts with a link behind every figure, drills down, and exports with the cookie."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, urlsplit

from conftest import PASSWORD, World
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from duban.engine.access.actors import OPERATOR, Actor
from duban.engine.store.db import write_session
from duban.engine.work import fanout, lifecycle


def sign_out(client: TestClient) -> None:
    """退出, with the session's form token as the header's form carries it."""
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/ui").text)
    assert token is not None
    assert client.post("/logout", data={"csrf": token.group(1)}, follow_redirects=False).status_code == 303


def history(world: World) -> None:
    """Congress to every branch of C01 (G01 done, G02 waived), the plaque to the non-public ones; then time passes."""
    rt = world.rt
    with write_session(world.db) as s:
        congress = fanout.assign_definition(s, rt, OPERATOR, "test-congress", "C01").assignment_id
        fanout.assign_definition(s, rt, OPERATOR, "test-plaque", "C01")
    with write_session(world.db) as s:
        from sqlalchemy import select

        from duban.engine.store.models import Task, Unit

        ids = dict(
            s.execute(
                select(Unit.code, Task.id)
                .join(Unit, Unit.id == Task.unit_id)
                .where(Task.assignment_id == congress)
            ).all()
        )
        lifecycle.waive_task(s, rt, OPERATOR, ids["G02"], "停办")
        lifecycle.submit_task(s, rt, OPERATOR, ids["G01"], form={"held_on": "2026-03-01", "attendance": 40})
    approver = Actor(name="operator-2", role="operator")  # nobody approves their own submission
    for _step in ("parent", "issuer"):
        with write_session(world.db) as s:
            lifecycle.approve_task(s, rt, approver, ids["G01"])
    world.rt.clock.set(world.rt.now() + timedelta(days=150))


def signed_in(client: TestClient, name: str) -> None:
    r = client.post("/login", data={"username": name, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303


def links(html: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'href="(/ui/tasks\?[^"]+)"', html)]


def test_the_dashboard_links_every_figure_to_its_task_list(client: TestClient, world: World) -> None:
    history(world)
    signed_in(client, "c01-admin")
    r = client.get("/ui/dashboard")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    html = r.text
    assert "东莞市总工会 · 进度总览" in html and "莞城街道总工会" in html and "虎门镇总工会" in html
    # The as-of time in words, as every other page writes a date.
    assert re.search(r"统计截至 \d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", html)
    # Charts are SVG drawn on the server, coloured by classes: no style attribute, no script.
    assert "<svg" in html and 'class="part-done"' in html and "<script" not in html and "style=" not in html
    found = links(html)
    queries = [parse_qs(urlsplit(u).query) for u in found]
    assert all(q["subtree"] == ["1"] for q in queries if "subtree" in q)
    assert {"unit": ["K01"], "subtree": ["1"], "state": ["done"]} in queries
    assert {"unit": ["K02"], "subtree": ["1"], "overdue": ["1"]} in queries
    # The matrix: a cell per child and item, each count a link narrowed to the item.
    assert {"unit": ["K02"], "subtree": ["1"], "definition": ["test-congress"], "overdue": ["1"]} in queries
    assert "每年至少召开一次会员大会" in html and "test-congress</th>" not in html
    # K01: G01's congress done on time, its plaque overdue (50% on time); K02: everything overdue (0%).
    assert '<span class="rank">第1名</span>' in html and "50.0%" in html and "0.0%" in html
    assert html.index("莞城街道总工会") < html.index("虎门镇总工会"), "ranked best first"
    assert "light-edge-red" in html
    assert "按时完成率 ≥ 90% 为绿灯" in html
    # Drill down: K01 shows its township, the breadcrumb leads back up.
    r = client.get("/ui/dashboard/K01")
    assert r.status_code == 200 and "莞城社区工会联合会" in r.text
    assert 'href="/ui/dashboard/C01"' in r.text and 'aria-current="page">莞城街道总工会' in r.text
    # A unit outside one's subtree is not found, as everywhere.
    sign_out(client)
    signed_in(client, "k01-admin")
    assert client.get("/ui/dashboard/K02").status_code == 404
    r = client.get("/ui/dashboard")
    assert r.status_code == 200 and 'href="/ui/dashboard/C01"' not in r.text


def test_the_dashboard_exports_the_workbook_a_leader_is_handed(client: TestClient, world: World) -> None:
    history(world)
    signed_in(client, "c01-admin")
    r = client.get("/ui/dashboard/C01.xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(BytesIO(r.content))
    sheet = book.worksheets[0]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "东莞市总工会进度总览"
    assert str(rows[1][0]).startswith("统计截至：2026-07-30")
    header = next(r for r in rows if r[0] == "单位代码")
    assert header[:6] == ["单位代码", "单位名称", "层级", "任务数", "已完成", "待审核"]
    body = {r[0]: r for r in rows[rows.index(header) + 1 :]}
    assert body["K01"][2] == "县级" and body["K02"][2] == "县级"
    total = body["合计"]
    tasks_col = header.index("任务数")
    assert total[tasks_col] == body["K01"][tasks_col] + body["K02"][tasks_col] == 6
    items = book.worksheets[1]
    titles = [row[0].value for row in items.iter_rows()]
    assert "每年至少召开一次会员大会" in titles and "test-congress" not in titles and "合计" in titles
    formulas = [
        c.coordinate for ws in book.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"
    ]
    assert formulas == []
    # English on request, the same numbers.
    en = load_workbook(BytesIO(client.get("/ui/dashboard/C01.xlsx?lang=en").content)).worksheets[0]
    assert [c.value for c in en[5]][:3] == ["Unit code", "Unit", "Level"]
    # Without a session: to the sign-in page, not a file.
    sign_out(client)
    assert client.get("/ui/dashboard/C01.xlsx", follow_redirects=False).status_code == 303


def test_the_lights_follow_the_settings(world: World) -> None:
    from conftest import settings_for

    from duban.api.app import create_app

    history(world)
    app: Any = create_app(
        settings_for(world.tmp, light_green=10, light_yellow=5), engine=world.db, runtime=world.rt
    )
    with TestClient(app) as client:
        signed_in(client, "c01-admin")
        html = client.get("/ui/dashboard").text
    assert "按时完成率 ≥ 10% 为绿灯，≥ 5% 为黄灯" in html


def test_the_task_list_exports_what_its_filters_show(client: TestClient, world: World) -> None:
    history(world)
    signed_in(client, "c01-admin")
    r = client.get("/ui/tasks.xlsx?unit=K02&subtree=1&overdue=1")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(BytesIO(r.content)).worksheets[0]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "虎门镇总工会任务清单"
    assert "已逾期" in rows[2][0] and "虎门镇总工会" in rows[2][0]
    header = next(r for r in rows if r[0] == "序号")
    assert header[:4] == ["序号", "单位代码", "单位名称", "任务项"]
    body = rows[rows.index(header) + 1 :]
    listed = body[:-1]
    # K02's overdue work: the congress of G03 and G04, the plaque of G03.
    assert sorted((r[1], r[3]) for r in listed) == [
        ("G03", "工会组织亮牌子"),
        ("G03", "每年至少召开一次会员大会"),
        ("G04", "每年至少召开一次会员大会"),
    ]
    assert all(r[6] == "待办理" and r[8] == "是" for r in listed)
    assert body[-1][0] == "合计" and body[-1][1] == 3 and body[-1][8] == 3
    assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    # Outside the caller's subtree: not found, as the list itself.
    client.post("/logout")
    signed_in(client, "k01-admin")
    assert client.get("/ui/tasks.xlsx?unit=K02").status_code == 404
