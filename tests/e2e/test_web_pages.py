"""The web pages over HTTP: sign-in, the 工作台, lists, actions with confirmation and redirect, CSRF, errors."""

from __future__ import annotations

import re
from typing import Any

from conftest import PASSWORD
from fastapi.testclient import TestClient

from duban.api.web import PAGE_MODULES


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in_web(client: TestClient, name: str) -> str:
    r = client.post("/login", data={"username": name, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui"
    return csrf_of(client.get("/ui").text)


def test_admin_pages(client: TestClient, backend: str) -> None:
    assert client.get("/ui/todo", follow_redirects=False).status_code == 303
    r = client.post("/login", data={"username": "k01-admin", "password": "wrong"})
    assert r.status_code == 401 and "账号或密码错误" in r.text
    r = client.post("/login", data={"username": "k01-admin", "password": PASSWORD}, follow_redirects=False)
    assert (
        r.status_code == 303
        and "duban_session" in r.headers["set-cookie"]
        and "HttpOnly" in r.headers["set-cookie"]
    )
    home = client.get("/ui")
    assert home.status_code == 200 and "工作台" in home.text and home.headers["cache-control"] == "no-store"
    csrf = csrf_of(home.text)
    assert "布置任务" in client.get("/ui/assign").text
    form = {"definition": "matrix-check", "scope": "K01", "csrf": csrf}
    r = client.post("/ui/assign", data=form | {"action": "preview"})
    assert r.status_code == 200 and 'id="preview"' in r.text and "乡镇（街道）：1" in r.text
    r = client.post("/ui/assign", data=form | {"action": "create"}, follow_redirects=False)
    assert r.status_code == 303 and "created=" in r.headers["location"]
    assert "已下达，创建了 1 项任务" in client.get(r.headers["location"]).text
    # The same item to the same scope again is not created without saying so.
    r = client.post("/ui/assign", data=form | {"action": "create"}, follow_redirects=False)
    assert r.status_code == 200 and 'id="duplicate"' in r.text
    r = client.post(
        "/ui/assign", data={"definition": "matrix-check", "scope": "C01", "action": "preview", "csrf": csrf}
    )
    assert r.status_code == 404 and "<html" in r.text and "不在您的管辖范围内" in r.text
    assert client.get("/ui/tasks?view=supervise").status_code == 200
    r = client.get("/ui/report")
    assert r.status_code == 200 and "<progress" in r.text and "莞城社区工会联合会" in r.text
    assert client.get("/ui/report/C01").status_code == 404
    r = client.get("/ui/tasks?view=todo&lang=en")
    assert "To do" in r.text and r.cookies.get("lang") == "en"
    assert "To do" in client.get("/ui/tasks?view=todo").text
    client.post("/logout", data={"csrf": csrf})
    assert client.get("/ui", follow_redirects=False).status_code == 303


def test_a_post_without_the_session_token_or_from_another_site_is_refused(
    client: TestClient, backend: str
) -> None:
    csrf = sign_in_web(client, "k01-admin")
    form = {"definition": "matrix-check", "scope": "K01", "action": "create"}
    r = client.post("/ui/assign", data=form)
    assert r.status_code == 403 and "页面已过期" in r.text
    r = client.post("/ui/assign", data=form | {"csrf": csrf}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    r = client.post("/ui/assign", data=form | {"csrf": csrf}, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    # Nothing was created on the way.
    assert "共 0 项" in client.get("/ui/tasks?view=all").text


def test_errors_under_ui_are_pages_in_chinese(client: TestClient, backend: str) -> None:
    sign_in_web(client, "g01-staff")
    for path in ("/ui/tasks/abc", "/ui/tasks/999999", "/ui/nowhere"):
        r = client.get(path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), path
        assert "页面不存在" in r.text or "未找到" in r.text
        assert '"detail"' not in r.text
    r = client.get("/ui/tasks/abc?lang=en")
    assert "does not exist" in r.text
    # The API keeps its problem+json.
    assert client.get("/api/v1/nowhere").headers["content-type"].startswith("application/problem+json")


def test_favicon_and_compression(client: TestClient, backend: str) -> None:
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg")
    r = client.get("/static/duban.css", headers={"Accept-Encoding": "gzip"})
    assert r.headers.get("content-encoding") == "gzip"


def test_every_page_post_needs_the_token(client: TestClient, backend: str) -> None:
    """Every POST route of the web UI checks the session's CSRF token (a route added later is covered too)."""
    sign_in_web(client, "k01-admin")
    posts = [
        r.path
        for module in PAGE_MODULES
        for r in module.router.routes
        if "POST" in getattr(r, "methods", ()) and r.path.startswith(("/ui", "/logout"))
    ]
    assert len(posts) >= 7
    for path in posts:
        url = re.sub(r"\{[^}]+\}", "1", path)
        r = client.post(url, data={"reason": "x", "confirmed": "1", "move": "urge", "ids": "1"})
        assert r.status_code == 403, (path, r.status_code)
    assert client.get("/ui").status_code == 200  # still signed in: the refused logout changed nothing


def test_a_body_over_the_cap_answers_a_page(client: TestClient, backend: str) -> None:
    csrf = sign_in_web(client, "g01-staff")
    r = client.post(
        "/ui/tasks/1/submit", data={"csrf": csrf}, files={"file_0": ("big.png", b"\0" * (7 << 20))}
    )
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "上传的内容太大" in r.text


def test_the_preview_says_which_values_are_the_offices_suggestion(world: Any, client: TestClient) -> None:
    from duban.engine.access.actors import OPERATOR
    from duban.engine.language.loader import parse_definition
    from duban.engine.store.db import write_session
    from duban.engine.work.catalog import store_definitions

    text = (
        "id: suggested-times\ntitle: 建议期限的事项\ntrigger: {every: year}\ndue: end_of_period\n"
        "reminders: [P7D]\napplies_to: {levels: [grassroots]}\ndefaults: [trigger.every, reminders]\n"
    )
    with write_session(world.db) as s:
        store_definitions(s, world.rt.now(), OPERATOR, [parse_definition(text, "suggested.yaml")])
    csrf = sign_in_web(client, "k01-admin")
    form = {"definition": "suggested-times", "scope": "K01", "action": "preview", "csrf": csrf}
    page = client.post("/ui/assign", data=form).text
    assert "以下为办公室建议值，计划原文未作规定" in page and "周期、提醒时间" in page
    assert "trigger.every" not in page


def test_the_task_page_says_when_the_deadline_or_number_is_not_the_plans(
    world: Any, client: TestClient
) -> None:
    from duban.engine.access.actors import OPERATOR
    from duban.engine.language.loader import parse_definition
    from duban.engine.store.db import write_session
    from duban.engine.work import fanout
    from duban.engine.work.catalog import store_definitions

    base = "trigger: assigned\napplies_to: {levels: [township]}\n"
    texts = {
        "suggested-due": "title: 建议期限\ndue: {after: P30D}\ndefaults: [due]\n",
        "stated-due": "title: 计划期限\ndue: {after: P30D}\n",
        "given-target": "title: 数量目标\ndue: {after: P30D}\ncompletion: {target: {measure: unions, unit_label: 家}}\n",
    }
    with write_session(world.db) as s:
        now = world.rt.now()
        store_definitions(
            s, now, OPERATOR, [parse_definition(f"id: {k}\n{v}{base}", f"{k}.yaml") for k, v in texts.items()]
        )
        made = {
            k: fanout.assign_definition(
                s, world.rt, OPERATOR, k, "K01", targets={"T01": 3} if k == "given-target" else None
            ).created
            for k in texts
        }
    assert made == {"suggested-due": 1, "stated-due": 1, "given-target": 1}
    sign_in_web(client, "k01-admin")
    ids = {
        k: re.search(r'href="/ui/tasks/(\d+)"', client.get(f"/ui/tasks?definition={k}").text).group(1)  # type: ignore[union-attr]
        for k in texts
    }
    pages = {k: client.get(f"/ui/tasks/{i}").text for k, i in ids.items()}
    assert "计划原文未规定期限，由布置单位确定" in pages["suggested-due"]
    assert 'id="due-not-in-plan"' not in pages["stated-due"]
    assert (
        'id="target-not-in-plan"' in pages["given-target"] and "计划原文未规定数量" in pages["given-target"]
    )


def test_a_refused_assignment_says_each_problem_once_beside_its_field(world: Any, client: TestClient) -> None:
    csrf = sign_in_web(client, "k01-admin")
    form = {
        "definition": "matrix-check",
        "scope": "K01",
        "due": "2026-02-30",
        "action": "preview",
        "csrf": csrf,
    }
    page = client.post("/ui/assign", data=form)
    assert page.status_code == 422
    beside = re.findall(r'<span class="field-error">([^<]+)</span>', page.text)
    assert beside and all(page.text.count(words) == 1 for words in beside), beside
    assert 'value="2026-02-30"' in page.text  # what was typed is kept
