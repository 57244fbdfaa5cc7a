"""报告事件 in the browser's forms: choose what happened and where, name the person or say what it is, get the work."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import ARGS, CHROMIUM, PASSWORD
from fastapi.testclient import TestClient

from duban.engine.access.actors import OPERATOR
from duban.engine.language.loader import parse_definition
from duban.engine.org.people import import_people
from duban.engine.store.db import write_session
from duban.engine.work import fanout
from duban.engine.work.catalog import store_definitions

SHOTS = Path(os.environ.get("DUBAN_SCREENSHOTS", tempfile.gettempdir()))
INCIDENT = """\
id: incident-report
title: 职工群体性事件报告
title_en: Report a collective labour incident
source: "测试"
applies_to: {levels: [grassroots]}
trigger: {event: incident.reported}
due: {after: PT24H}
"""


def sign_in_web(client: TestClient, name: str) -> str:
    r = client.post("/login", data={"username": name, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/ui").text)
    assert found
    return found.group(1)


def listen(world: Any) -> None:
    """The city assigns the onboarding training (on an appointment) and the incident report; G01 has a cadre."""
    people = world.tmp / "people.csv"
    people.write_text(
        "id,name,unit_code,kind,appointed_on,birthday\nP1,张三,G01,cadre,2026-03-01,\n", encoding="utf-8"
    )
    with write_session(world.db) as s:
        now = world.rt.now()
        store_definitions(s, now, OPERATOR, [parse_definition(INCIDENT, "incident.yaml")])
        import_people(s, now, OPERATOR, people)
        for def_id in ("test-training", "incident-report"):
            fanout.assign_definition(s, world.rt, OPERATOR, def_id, "C01")


def test_nothing_to_report_until_an_assignment_listens(world: Any, client: TestClient) -> None:
    sign_in_web(client, "g01-staff")
    page = client.get("/ui/events").text
    assert 'id="no-events"' in page and "上级尚未布置需要登记事件的事项" in page
    assert 'href="/ui/events"' in page  # staff reach it from the menu


def test_a_branch_reports_an_appointment_and_gets_the_training_task(world: Any, client: TestClient) -> None:
    listen(world)
    csrf = sign_in_web(client, "g01-staff")
    first = client.get("/ui/events").text
    assert "新任工会干部上岗培训" in first and "职工群体性事件报告" in first
    assert "cadre.appointed" not in re.sub(r'value="[^"]*"', "", first)  # the event's name is never shown
    second = client.get("/ui/events?event=cadre.appointed&unit=G01").text
    assert 'name="subject"' in second and "张三" in second and 'name="label"' not in second
    form = {"csrf": csrf, "event": "cadre.appointed", "unit": "G01", "at": "2026-03-02T10:00"}
    refused = client.post("/ui/events", data=form)
    assert refused.status_code == 422 and '<span class="field-error">必填</span>' in refused.text
    r = client.post("/ui/events", data=form | {"subject": "P1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/events?posted=1&tasks=")
    task_id = r.headers["location"].rsplit("=", 1)[1]
    done = client.get(r.headers["location"]).text
    assert "已登记，生成了 1 项任务" in done and f'href="/ui/tasks/{task_id}">新任工会干部上岗培训 · ' in done
    task = client.get(f"/ui/tasks/{task_id}").text
    assert "新任工会干部上岗培训" in task and "张三" in task


def test_an_incident_is_told_in_words_and_its_task_shows_them(world: Any, client: TestClient) -> None:
    listen(world)
    csrf = sign_in_web(client, "g01-staff")
    page = client.get("/ui/events?event=incident.reported&unit=G01").text
    assert 'name="label"' in page and 'name="subject"' not in page
    form = {"csrf": csrf, "event": "incident.reported", "unit": "G01", "at": "2026-03-02T10:00"}
    r = client.post("/ui/events", data=form)
    assert r.status_code == 422 and '<span class="field-error">必填</span>' in r.text
    r = client.post("/ui/events", data=form | {"label": "欠薪\x1b[31m"})
    assert r.status_code == 422 and "控制字符" in r.text
    # Said once, beside the field, keeping what was typed; nothing claims it was recorded.
    assert r.text.count("控制字符") == 1 and "已登记" not in r.text and 'value="欠薪' in r.text
    r = client.post("/ui/events", data=form | {"at": "2026-03-09T10:00", "label": "某厂欠薪"})
    assert r.status_code == 422 and "发生时间不能晚于明天" in r.text
    r = client.post("/ui/events", data=form | {"label": "某电子厂欠薪集体反映"}, follow_redirects=False)
    assert r.status_code == 303
    task_id = r.headers["location"].rsplit("=", 1)[1]
    assert "某电子厂欠薪集体反映" in client.get(f"/ui/tasks/{task_id}").text
    assert "某电子厂欠薪集体反映" in client.get("/ui/tasks?view=todo").text
    # The same words the same day are the same incident: recorded again, nothing more is made.
    again = client.post("/ui/events", data=form | {"label": "某电子厂欠薪集体反映"}, follow_redirects=False)
    assert "已登记。上级布置中没有需要此单位" in client.get(again.headers["location"]).text


def test_a_viewer_cannot_report_and_another_citys_unit_is_not_offered(world: Any, client: TestClient) -> None:
    listen(world)
    csrf = sign_in_web(client, "g01-viewer")
    assert 'href="/ui/events"' not in client.get("/ui").text
    form = {"csrf": csrf, "event": "incident.reported", "unit": "G01", "label": "某厂欠薪"}
    r = client.post("/ui/events", data=form)
    assert r.status_code == 403 and "您无权进行此操作" in r.text
    client.post("/logout", data={"csrf": csrf})
    csrf = sign_in_web(client, "k01-admin")
    r = client.post("/ui/events", data=form | {"csrf": csrf, "unit": "X01"})
    assert r.status_code == 404 and "不在您的管辖范围内" in r.text
    assert "越秀区总工会" not in client.get("/ui/events?event=incident.reported").text
    # An edited address names no task outside the caller's units.
    with write_session(world.db) as s:
        (far,) = fanout.post_event(s, world.rt, OPERATOR, "incident.reported", "G04", label="某厂欠薪")
        (near,) = fanout.post_event(s, world.rt, OPERATOR, "incident.reported", "G01", label="某厂欠薪")
    named = client.get(f"/ui/events?posted=2&tasks={far},{near}").text
    assert f'href="/ui/tasks/{near}"' in named and f'href="/ui/tasks/{far}"' not in named


def test_the_page_in_english(world: Any, client: TestClient) -> None:
    listen(world)
    sign_in_web(client, "g01-staff")
    page = client.get("/ui/events?event=incident.reported&unit=G01&lang=en").text
    assert (
        "Report an event" in page and "Report a collective labour incident" in page and "What it is" in page
    )


@pytest.mark.sqlite_only
def test_reporting_in_chromium_on_a_desktop_and_a_phone(world: Any, server: str) -> None:
    """The two steps in a real browser; on a phone every menu entry is in sight (the menu wraps)."""
    from playwright.sync_api import expect, sync_playwright

    listen(world)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, viewport in (
            ("desktop", {"width": 1366, "height": 900}),
            ("phone", {"width": 390, "height": 844}),
        ):
            page: Any = browser.new_context(viewport=viewport).new_page()
            page.goto(f"{server}/login")
            page.fill("input[name=username]", "k01-admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            for link in page.locator("nav.main-nav a").all():
                box = link.bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (
                    link.inner_text()
                )
            page.click("nav.main-nav a[href='/ui/events']")
            page.select_option("select[name=event]", "incident.reported")
            page.select_option("select[name=unit]", "G02")
            page.click("#next")
            page.fill("input[name=label]", f"某厂欠薪（{name}）")
            page.click("#post")
            expect(page.locator("#posted")).to_contain_text("已登记，生成了 1 项任务")
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            page.screenshot(path=str(SHOTS / f"events-{name}.png"), full_page=True)
            page.locator("#posted a").first.click()
            expect(page.locator("h1")).to_contain_text(f"某厂欠薪（{name}）")
        browser.close()
