"""考核 and 台账 in the web pages (HTTP, no browser), both databases: a county's ranking in Chinese and
in order, a unit's score card with each deduction in words, closing, reopening with a reason
(audited), bonus points and their refusals beside the form, the ledger and its workbook with the
session cookie, and a branch kept out of its county's assessment."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from conftest import ARGS, CHROMIUM, PASSWORD, World
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from duban.engine.access.actors import OPERATOR, actor_for
from duban.engine.assess.scheme import parse_scheme
from duban.engine.assess.versions import store_schemes
from duban.engine.language.loader import parse_definition
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Audit, Task
from duban.engine.work import fanout, lifecycle
from duban.engine.work.catalog import store_definitions
from tests.support.assess_world import REPORT, SCHEME, WARMTH, spring, task_ids


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found
    return found.group(1)


def as_user(client: TestClient, name: str) -> None:
    client.cookies.clear()
    r = client.post("/login", data={"username": name, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303


@pytest.fixture
def scored(world: World, replay: Any) -> World:
    """K01's spring (tests/support/assess_world.py): G01 on time with quality 8 and a bonus; G02
    sent back, late, quality 6, report missing."""
    with write_session(world.db) as s:
        store_definitions(
            s,
            world.rt.now(),
            OPERATOR,
            [parse_definition(WARMTH, "warmth.yaml"), parse_definition(REPORT, "r.yaml")],
        )
        store_schemes(
            s, world.rt.now(), OPERATOR, [(parse_scheme(SCHEME, "scheme.yaml"), "scheme.yaml", SCHEME)]
        )
    spring(world.db, replay)
    return world


def ranking(html: str) -> list[tuple[str, str, str]]:
    """(rank, unit name, 折合得分) per row, in page order."""
    rows = re.findall(
        r'<tr class="rank-row" data-unit="(\w+)">\s*<td[^>]*>(\d+)</td>\s*<td[^>]*><a[^>]*>([^<]+)</a>'
        r".*?<strong>([\d.]+)</strong>",
        html,
        re.S,
    )
    return [(rank, name, score) for _code, rank, name, score in rows]


def test_the_ranking_shows_in_order_with_chinese_labels(
    client: TestClient, scored: World, backend: str
) -> None:
    as_user(client, "k01-admin")
    r = client.get("/ui/assess?scheme=test-scheme")
    assert r.status_code == 200, r.text
    html = r.text
    assert "莞城街道总工会" in html and "2026年度基层工会工作考核细则" in html
    for words in ("排名", "单位", "得分/满分", "加分", "折合得分", "基层", "进行中"):
        assert words in html, words
    # G01: 58 + 40 of 100, +3 bonus = 101; G02: 49 of 100 (report missing floors at 0).
    assert ranking(html) == [("1", "华达电子有限公司工会", "101"), ("2", "莞城第一小学工会", "49")]
    assert 'class="light light-green"' in html and 'class="light light-red"' in html
    assert '<a href="/ui/assess">考核</a>' in html  # the header's link
    # The card links and the admin's forms, each with the session's token.
    assert "/ui/assess/test-scheme/K01/card/G01" in html
    assert 'id="close-form"' in html and 'id="bonus-form"' in html and 'name="csrf"' in html
    english = client.get("/ui/assess?scheme=test-scheme&lang=en").text
    assert "Rank" in english and "Grassroots" in english and "排名" not in english
    # The scheme's and its bonus item's English names (title_en, label_en), the Chinese ones on Chinese pages.
    assert "2026 assessment rules for grassroots unions" in english and "考核细则" not in english
    assert "Named a model workers&#39; home" in english and "获评模范职工之家（" not in english
    assert "2026年度基层工会工作考核细则" in html and "Named a model" not in html
    # A township admin sees the same page for its own union, without the county's forms.
    as_user(client, "t01-admin")
    own = client.get("/ui/assess?scheme=test-scheme")
    assert own.status_code == 200 and "莞城社区工会联合会" in own.text
    assert [name for _r, name, _s in ranking(own.text)] == ["华达电子有限公司工会", "莞城第一小学工会"]


def test_a_unit_found_by_name_and_a_choice_among_several(
    client: TestClient, scored: World, backend: str
) -> None:
    as_user(client, "c01-admin")
    one = client.get("/ui/assess", params={"scheme": "test-scheme", "unit": "莞城街道"})
    assert one.status_code == 200 and len(ranking(one.text)) == 2
    several = client.get("/ui/assess", params={"scheme": "test-scheme", "unit": "莞城"})
    assert 'id="candidates"' in several.text and "请选择单位" in several.text
    assert "unit=K01" in several.text and "unit=T01" in several.text
    none = client.get("/ui/assess", params={"scheme": "test-scheme", "unit": "不存在"})
    assert none.status_code == 404 and "没有找到这个单位" in none.text


def test_the_score_card_says_each_deduction_in_words(client: TestClient, scored: World, backend: str) -> None:
    as_user(client, "k01-admin")
    r = client.get("/ui/assess/test-scheme/K01/card/G02")
    assert r.status_code == 200, r.text
    html = r.text
    assert "莞城第一小学工会" in html and "得分明细" in html
    assert "逾期提交 1 次 × −5 分 = −5 分" in html
    assert "被退回 1 次 × −2 分 = −2 分" in html
    assert "逾期未完成 1 次 × −20 分 = −20 分" in html
    assert "基层第 2 名（共 2 个）" in html
    assert "/ui/tasks?unit=G02&amp;item=test-warmth&amp;sub=0" in html
    english = client.get("/ui/assess/test-scheme/K01/card/G02?lang=en").text
    assert "Handed in late: 1 × −5 = −5 points" in english and "Send warmth" in english
    assert "逾期" not in english and "2026 assessment rules for grassroots unions" in english
    assert "Named a model workers&#39; home" in client.get("/ui/assess/test-scheme/K01/card/G01?lang=en").text
    client.get("/ui/assess?lang=zh")
    g01 = client.get("/ui/assess/test-scheme/K01/card/G01").text
    assert "获评模范职工之家" in g01 and "获评市级模范职工之家" in g01 and "+3" in g01
    # The linked list holds exactly that unit's task of that item.
    listed = client.get("/ui/tasks?unit=G02&item=test-warmth&sub=0")
    assert listed.status_code == 200 and listed.text.count('class="task-row"') == 1
    missing = client.get("/ui/assess/test-scheme/K01/card/K02")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


def test_close_freezes_and_reopen_needs_a_reason_and_is_audited(
    client: TestClient, scored: World, replay: Any, backend: str
) -> None:
    as_user(client, "k01-admin")
    token = csrf_of(client.get("/ui/assess?scheme=test-scheme").text)
    asked = client.post("/ui/assess/test-scheme/K01/close", data={"csrf": token})
    assert (
        asked.status_code == 200 and 'id="confirm-form"' in asked.text and "冻结 2 个单位的得分" in asked.text
    )
    done = client.post(
        "/ui/assess/test-scheme/K01/close", data={"csrf": token, "confirmed": "1"}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"].endswith("done=closed")
    page = client.get(done.headers["location"]).text
    assert "已关闭" in page and "考核已关闭，得分已冻结" in page and 'id="reopen-form"' in page
    # Work done after closing does not move the frozen scores.
    replay.at("2026-04-12T10:00")
    with write_session(scored.db) as s:
        lifecycle.submit_task(
            s, scored.rt, actor_for(s, "g02-staff"), task_ids(scored.db, "test-report")["G02"]
        )
    as_user(client, "k01-admin")  # two days on: the session of the 10th has expired
    token = csrf_of(client.get("/ui/assess?scheme=test-scheme").text)
    assert ranking(client.get("/ui/assess?scheme=test-scheme").text)[1][2] == "49"
    # Closing twice: the engine's refusal in Chinese, beside the form.
    again = client.post("/ui/assess/test-scheme/K01/close", data={"csrf": token, "confirmed": "1"})
    assert again.status_code == 409 and "本考核已关闭" in again.text and "closed already" not in again.text
    # A bonus while closed is refused in words too, and what was typed stays.
    refused = client.post(
        "/ui/assess/test-scheme/K01/bonus",
        data={"csrf": token, "unit": "G02", "bonus": "model-home", "points": "1", "reason": "先进集体"},
    )
    assert refused.status_code == 409 and "考核已关闭，请先重新开启" in refused.text
    blank = client.post("/ui/assess/test-scheme/K01/reopen", data={"csrf": token, "reason": " "})
    assert blank.status_code == 422 and "请填写重新开启的原因" in blank.text
    reopened = client.post(
        "/ui/assess/test-scheme/K01/reopen",
        data={"csrf": token, "reason": "补交材料复核"},
        follow_redirects=False,
    )
    assert reopened.status_code == 303
    live = client.get(reopened.headers["location"]).text
    assert "进行中" in live and "考核已重新开启" in live
    assert ranking(live)[1][2] == "89"  # the report handed in late, without a late deduction: +40
    with read_session(scored.db) as s:
        audit = s.execute(
            select(Audit.action, Audit.actor, Audit.payload)
            .where(Audit.action.like("assessment.%"))
            .order_by(Audit.id)
        ).all()
    assert [(a.action, a.actor) for a in audit] == [
        ("assessment.closed", "k01-admin"),
        ("assessment.reopened", "k01-admin"),
    ]
    assert audit[1].payload["reason"] == "补交材料复核"


def test_bonus_points_from_the_page_and_their_refusals(
    client: TestClient, scored: World, backend: str
) -> None:
    as_user(client, "k01-admin")
    token = csrf_of(client.get("/ui/assess?scheme=test-scheme").text)
    form = {"csrf": token, "unit": "G02", "bonus": "model-home", "points": "2", "reason": "县级先进"}
    given = client.post("/ui/assess/test-scheme/K01/bonus", data=form, follow_redirects=False)
    assert given.status_code == 303
    assert ranking(client.get(given.headers["location"]).text)[1] == ("2", "莞城第一小学工会", "51")
    over = client.post("/ui/assess/test-scheme/K01/bonus", data=form | {"points": "4"})
    assert over.status_code == 422 and "获评模范职工之家：累计最多 5 分，已加 2 分" in over.text
    assert 'value="县级先进"' in over.text  # kept
    empty = client.post("/ui/assess/test-scheme/K01/bonus", data=form | {"reason": ""})
    assert empty.status_code == 422 and "必填" in empty.text
    # A staff account sees the ranking but no forms, and a post is refused as a page.
    as_user(client, "k01-staff")
    html = client.get("/ui/assess?scheme=test-scheme").text
    assert 'id="bonus-form"' not in html and len(ranking(html)) == 2
    staff = client.post("/ui/assess/test-scheme/K01/bonus", data=form | {"csrf": csrf_of(html)})
    assert staff.status_code == 403 and "您无权进行此操作" in staff.text
    # Without the session's token nothing happens.
    as_user(client, "k01-admin")
    stale = client.post("/ui/assess/test-scheme/K01/close", data={"confirmed": "1"})
    assert stale.status_code == 403
    assert "进行中" in client.get("/ui/assess?scheme=test-scheme").text


def test_a_branch_cannot_see_its_countys_assessment(client: TestClient, scored: World, backend: str) -> None:
    as_user(client, "g01-admin")
    for url in (
        "/ui/assess?scheme=test-scheme&unit=K01",
        "/ui/assess/test-scheme/K01/card/G01",
        "/ui/ledger.xlsx?item=test-warmth&unit=K01&period=2026",
    ):
        r = client.get(url)
        assert r.status_code == 404, url
        assert r.headers["content-type"].startswith("text/html") and "管辖范围" in r.text, url
    token = csrf_of(client.get("/ui/assess?scheme=test-scheme").text)
    r = client.post("/ui/assess/test-scheme/K01/close", data={"csrf": token, "confirmed": "1"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")


def test_the_ledger_page_and_its_workbook_with_the_cookie(
    client: TestClient, scored: World, backend: str
) -> None:
    as_user(client, "k01-admin")
    r = client.get("/ui/ledger", params={"item": "test-warmth", "period": "2026"})
    assert r.status_code == 200, r.text
    html = r.text
    for words in ("分单位汇总", "慰问户数（户）", "合计", "上年同期", "增减", "导出Excel", "2026年"):
        assert words in html, words
    figures = re.search(r'<tr class="total">(.*?)</tr>', html, re.S)
    assert figures and re.findall(r'<td class="num">([^<]+)</td>', figures.group(1)) == [
        "15",
        "1,200.50",
        "600.25",
        "100%",
    ]
    assert html.count('<tr><th scope="row"><a href="/ui/tasks/') == 2
    link = re.search(r'id="export" href="([^"]+)"', html)
    assert link
    xlsx = client.get(link.group(1).replace("&amp;", "&"))  # the cookie only, no bearer token
    assert xlsx.status_code == 200
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''" in xlsx.headers["content-disposition"]
    book = load_workbook(BytesIO(xlsx.content))
    rows = [[c.value for c in row] for row in book["台账"].iter_rows()]
    assert rows[0][0] == "莞城街道总工会 送温暖慰问 台账（2026）"
    assert [r[1] for r in rows[3:5]] == ["华达电子有限公司工会", "莞城第一小学工会"]
    assert rows[-4][:3] == ["合计", "慰问户数（户）", 15]
    bad = client.get("/ui/ledger", params={"item": "test-warmth", "period": "2026年"})
    assert bad.status_code == 422 and "周期格式有误" in bad.text
    client.cookies.clear()
    assert (
        client.get(link.group(1).replace("&amp;", "&"), follow_redirects=False).headers["location"]
        == "/login"
    )


ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.sqlite_only
def test_the_ranking_and_a_card_in_chromium_on_desktop_and_phone(scored: World, server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, viewport in VIEWPORTS.items():
            page: Any = browser.new_context(viewport=viewport, locale="zh-CN").new_page()
            page.goto(f"{server}/login")
            page.fill("input[name=username]", "k01-admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.click("nav.main-nav a[href='/ui/assess']")
            expect(page.locator("tr.rank-row")).to_have_count(2)
            expect(page.locator("tr.rank-row").first).to_contain_text("华达电子有限公司工会")
            # Nothing wider than the screen: the table is a stack of cards on a phone.
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            page.screenshot(path=str(ARTIFACTS / f"{name}-assess.png"), full_page=True)
            page.click("#manage summary")
            page.select_option("#bonus-form select[name=unit]", "G01")
            page.fill("#bonus-form input[name=points]", "9")
            page.fill("#bonus-form input[name=reason]", "先进集体")
            page.click("#give-bonus")
            expect(page.locator("#manage .error")).to_contain_text("累计最多 5 分，已加 3 分")
            page.screenshot(path=str(ARTIFACTS / f"{name}-assess-refused.png"), full_page=True)
            page.locator("tr.rank-row a").nth(1).click()
            expect(page.locator("h1")).to_contain_text("莞城第一小学工会")
            expect(page.locator("ul.deductions li").first).to_have_text("逾期提交 1 次 × −5 分 = −5 分")
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            link = page.locator(".score-item h3 a").first.bounding_box()
            assert link["height"] >= 32
            page.screenshot(path=str(ARTIFACTS / f"{name}-score-card.png"), full_page=True)
            page.goto(f"{server}/ui/ledger?item=test-warmth&period=2026")
            expect(page.locator("#figures tr.total")).to_contain_text("1,200.50")
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            page.screenshot(path=str(ARTIFACTS / f"{name}-ledger.png"), full_page=True)
        browser.close()


def test_quality_points_on_approval_in_the_same_transaction(
    client: TestClient, world: World, replay: Any, backend: str
) -> None:
    from duban.engine.store.models import ScoreAward

    rt = world.rt
    with write_session(world.db) as s:
        store_definitions(s, rt.now(), OPERATOR, [parse_definition(WARMTH, "warmth.yaml")])
        store_schemes(s, rt.now(), OPERATOR, [(parse_scheme(SCHEME, "scheme.yaml"), "scheme.yaml", SCHEME)])
        fanout.assign_definition(s, rt, actor_for(s, "k01-admin"), "test-warmth", "K01")
    task = task_ids(world.db, "test-warmth")["G01"]
    with write_session(world.db) as s:
        lifecycle.submit_task(s, rt, actor_for(s, "g01-staff"), task, form={"households": 3, "funds": 90})
    as_user(client, "t01-admin")
    html = client.get(f"/ui/tasks/{task}").text
    assert 'name="quality"' in html and "质量评分（0–10 分，可不填）" in html
    token = csrf_of(html)
    confirm = client.post(f"/ui/tasks/{task}/approve", data={"csrf": token, "quality": "8"})
    assert 'name="quality" value="8"' in confirm.text and "质量评分：<strong>8</strong>" in confirm.text
    over = client.post(f"/ui/tasks/{task}/approve", data={"csrf": token, "quality": "12", "confirmed": "1"})
    assert over.status_code == 422 and "质量评分应在 0 至 10 分之间" in over.text
    with read_session(world.db) as s:
        assert (
            s.scalar(select(Task.state).where(Task.id == task)) == "submitted"
        )  # the approval rolled back too
    done = client.post(
        f"/ui/tasks/{task}/approve",
        data={"csrf": token, "quality": "8", "confirmed": "1"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with read_session(world.db) as s:
        assert s.scalar(select(Task.state).where(Task.id == task)) == "done"
        awards = s.execute(select(ScoreAward.kind, ScoreAward.points, ScoreAward.awarded_by)).all()
        actions = s.scalars(select(Audit.action).where(Audit.task_id == task).order_by(Audit.id)).all()
    assert [tuple(a) for a in awards] == [("quality", 8, "t01-admin")]
    assert actions[-2:] == ["task.approved", "score.quality"]
    # The county's card shows it.
    as_user(client, "k01-admin")
    card = client.get("/ui/assess/test-scheme/K01/card/G01").text
    assert re.search(r"质量评分</dt><dd>8</dd>", card)


def test_a_long_level_shows_its_top_then_pages_of_its_own(
    client: TestClient, scored: World, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from duban.api.web import assess_pages

    monkeypatch.setattr(assess_pages, "TOP", 1)
    monkeypatch.setattr(assess_pages, "RANK_PAGE", 1)
    monkeypatch.setattr(assess_pages, "PICK_MAX", 1)
    as_user(client, "k01-admin")
    top = client.get("/ui/assess?scheme=test-scheme").text
    assert [name for _r, name, _s in ranking(top)] == ["华达电子有限公司工会"]
    # More units than a select should hold: the bonus form asks for the unit's code instead.
    assert '<input type="text" name="unit" required' in top and '<select name="unit"' not in top
    more = re.search(r'<p class="more"><a href="([^"]+)">查看全部 2 个单位的排名</a>', top)
    assert more
    second = client.get(more.group(1).replace("&amp;", "&") + "&page=2").text
    assert ranking(second) == [("2", "莞城第一小学工会", "49")] and "第 2 / 2 页" in second
