"""The web UI in a real browser: headless Chromium (Debian's package) via Playwright, against uvicorn.

Sign in as a branch, see the to-do list with its due badge, open the task, fill
in the form generated from the definition, submit, and see it done.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ARGS, CHROMIUM, PASSWORD, World

from duban.engine.access.actors import actor_for
from duban.engine.store.db import write_session
from duban.engine.work import fanout

pytestmark = pytest.mark.sqlite_only


def test_branch_signs_in_fills_the_form_and_sees_it_done(world: World, server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with write_session(world.db) as s:
        fanout.assign_definition(s, world.rt, actor_for(s, "c01-admin"), "plaque-check", "C01")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page: Any = browser.new_page()
        page.goto(f"{server}/ui/todo")
        expect(page).to_have_url(f"{server}/login")
        page.fill("input[name=username]", "g01-staff")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{server}/ui")
        expect(page.locator("#card-todo .n")).to_have_text("1")
        page.click("#card-todo")
        row = page.locator("tr.task-row").filter(has_text="工会挂牌检查")
        expect(row).to_have_count(1)
        expect(row.locator(".badge")).to_have_text("剩余 10 天")
        page.screenshot(path="/tmp/duban-todo.png", full_page=True)
        row.locator("td.title a").click()
        page.fill("input[name=f_shown_on]", "2026-03-02")
        page.fill("input[name=f_chair_name]", "王芳")
        page.click("#submit")
        expect(page.locator("#state")).to_have_text("已完成")
        page.screenshot(path="/tmp/duban-task-done.png", full_page=True)
        page.goto(f"{server}/ui/tasks?view=todo&lang=en")
        expect(page.locator("p.empty")).to_have_text("Nothing here")
        browser.close()
