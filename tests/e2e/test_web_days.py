"""A branch's, a county's and a city's day in a real browser, on an office screen and on a phone.

The branch hands in its work with photos, the county sends it back with a reason, the branch
reads the reason (on the task and in its inbox) and resubmits, the county approves in a batch;
later the city finds the late work below it, urges it in a batch and drills down to a branch's
task. Screenshots of every step are kept under tests/artifacts/ (not in git) to be looked at.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import ARGS, CHROMIUM, PASSWORD, PNG, World

from duban.engine.access.actors import actor_for
from duban.engine.followup.delivery import deliver_outbox
from duban.engine.language.loader import parse_definition
from duban.engine.store.db import write_session
from duban.engine.work import fanout
from duban.engine.work.catalog import store_definitions

pytestmark = pytest.mark.sqlite_only
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
HOME_DEF = """\
id: home-check
title: 职工之家建设
title_en: Workers' home
source: "《2026年工作要点》第三条"
description: 上传职工之家门牌照片和活动台账照片，填写会员人数。
applies_to: {levels: [grassroots]}
trigger: assigned
due: {after: P10D}
completion:
  form:
    members: {type: integer, required: true, label: 会员人数, label_en: Members, min: 1}
  attachments: {min: 2, labels: [门牌照片, 台账照片]}
approval: [county]
"""
REASON = "门牌照片看不清单位名称，请重新拍摄"
URGE = "请本周内办结"


class Day:
    """One person's browser on one viewport, saving a numbered screenshot per step."""

    def __init__(self, browser: Any, server: str, viewport: str, who: str) -> None:
        self.server, self.viewport, self.who, self.n = server, viewport, who, 0
        self.context = browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN")
        self.page = self.context.new_page()

    def shot(self, name: str) -> None:
        self.n += 1
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(
            path=str(ARTIFACTS / f"{self.viewport}-{self.who}-{self.n:02}-{name}.png"), full_page=True
        )

    def sign_in(self) -> None:
        from playwright.sync_api import expect

        self.page.goto(f"{self.server}/login")
        self.page.fill("input[name=username]", self.who)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        expect(self.page).to_have_url(f"{self.server}/ui")
        self.shot("workbench")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_branch_a_county_and_a_city_run_their_day(
    world: World, server: str, viewport: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with write_session(world.db) as s:
        store_definitions(
            s, world.rt.now(), actor_for(s, "c01-admin"), [parse_definition(HOME_DEF, "home.yaml")]
        )
        fanout.assign_definition(s, world.rt, actor_for(s, "c01-admin"), "home-check", "C01")
    plaque, ledger = tmp_path / "门牌.png", tmp_path / "台账.png"
    plaque.write_bytes(PNG)
    ledger.write_bytes(PNG)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        # The branch: from the 工作台 to its task; a wrong number is refused beside its field.
        branch = Day(browser, server, viewport, "g01-staff")
        branch.sign_in()
        page = branch.page
        expect(page.locator("#card-todo .n")).to_have_text("1")
        page.click("#card-todo")
        page.locator("tr.task-row td.title a").first.click()
        expect(page.locator(".guide")).to_contain_text("《2026年工作要点》第三条")
        assert "image/*" in (page.locator("input[type=file]").first.get_attribute("accept") or "")
        page.fill("input[name=f_members]", "0")
        page.set_input_files("input[name=file_0]", str(plaque))
        page.set_input_files("input[name=file_1]", str(ledger))
        page.locator("input[name=f_members]").evaluate("e => e.removeAttribute('min')")
        page.click("#submit")
        expect(page.locator(".field-error").first).to_have_text("不能小于 1")
        expect(page.locator("input[name=f_members]")).to_have_value("0")
        branch.shot("refused")
        page.fill("input[name=f_members]", "120")
        page.set_input_files("input[name=file_0]", str(plaque))
        page.set_input_files("input[name=file_1]", str(ledger))
        page.click("#submit")
        expect(page.locator("#state")).to_have_text("待审核")
        expect(page.locator("img.thumb")).to_have_count(2)
        branch.shot("submitted")
        task_url = page.url.split("?")[0]

        # The county: waiting for its approval; sends it back with a reason, confirming first.
        county = Day(browser, server, viewport, "k01-admin")
        county.sign_in()
        cp = county.page
        expect(cp.locator("#card-approve .n")).to_have_text("1")
        cp.click("#card-approve")
        county.shot("to-approve")
        cp.locator("tr.task-row td.title a").first.click()
        cp.fill("#reject-input", REASON)
        cp.click("#reject")
        expect(cp.locator("#confirm-form")).to_contain_text(REASON)
        county.shot("confirm-send-back")
        cp.click("#confirm")
        expect(cp.locator("#done")).to_contain_text("已退回")
        expect(cp.locator("#state")).to_have_text("待办理")
        county.shot("sent-back")

        # The branch reads the reason on its task and in its inbox, and resubmits.
        deliver_outbox(world.db, world.rt, {})
        page.goto(f"{server}/ui")
        expect(page.locator("#unread")).to_have_text("1")
        page.click(".inbox-link")
        expect(page.locator("li.notice.unread")).to_contain_text(REASON)
        branch.shot("inbox")
        page.click("#mark-all")
        expect(page.locator("#unread")).to_have_count(0)
        page.goto(task_url)
        expect(page.locator("#reject-reason")).to_have_text(REASON)
        expect(page.locator("input[name=f_members]")).to_be_visible()
        branch.shot("reason-at-top")
        page.fill("input[name=f_members]", "120")
        page.click("#submit")
        expect(page.locator("#state")).to_have_text("待审核")

        # The county approves in a batch.
        cp.goto(f"{server}/ui/tasks?view=approve")
        cp.locator("input[name=ids]").first.check()
        cp.click("#batch-approve")
        county.shot("confirm-batch")
        cp.click("#confirm")
        expect(cp.locator("#done")).to_contain_text("已审核通过")
        county.shot("approved")

        # Weeks later the city sees the late work below it, urges it in a batch and drills down.
        world.rt.clock.set(world.rt.now() + timedelta(days=15))  # type: ignore[attr-defined]
        city = Day(browser, server, viewport, "c01-admin")
        city.sign_in()
        xp = city.page
        expect(xp.locator("#card-late_below .n")).to_have_text("3")
        xp.click("#card-late_below")
        xp.check("#select-all")  # the one script, loaded only where a list has ticks
        for box in xp.locator("input[name=ids]").all():
            expect(box).to_be_checked()
        xp.fill(".batch-bar input[name=reason]", URGE)
        city.shot("supervision")
        xp.click("#batch-urge")
        xp.click("#confirm")
        expect(xp.locator("#done")).to_contain_text("已催办")
        xp.locator("tr.task-row a.unit").filter(has_text="莞城第一小学工会").click()
        expect(xp.locator("h1")).to_contain_text("莞城第一小学工会")
        city.shot("drill-down")
        xp.locator("tr.task-row td.title a").first.click()
        expect(xp.locator("#history")).to_contain_text(URGE)
        expect(xp.locator("#history")).to_contain_text("东莞市总工会 管理员")
        city.shot("task-history")
        xp.goto(f"{server}/ui/tasks?view=all&lang=en")
        expect(xp.locator("h1")).to_contain_text("Tasks")
        browser.close()
