"""The web pages render for a signed-in admin: assignment with preview, supervision, dashboard, English switch."""

from __future__ import annotations

from conftest import PASSWORD
from fastapi.testclient import TestClient


def test_admin_pages(client: TestClient, backend: str) -> None:
    assert client.get("/ui/todo", follow_redirects=False).status_code == 303
    r = client.post("/login", data={"username": "k01-admin", "password": "wrong"})
    assert (r.status_code == 401 and "账号或密码错误" in r.text) or "wrong account" in r.text.lower()
    r = client.post("/login", data={"username": "k01-admin", "password": PASSWORD}, follow_redirects=False)
    assert (
        r.status_code == 303
        and "duban_session" in r.headers["set-cookie"]
        and "HttpOnly" in r.headers["set-cookie"]
    )
    assert "布置任务" in client.get("/ui/assign").text
    r = client.post("/ui/assign", data={"definition": "matrix-check", "scope": "K01", "action": "preview"})
    assert r.status_code == 200 and 'id="preview"' in r.text and "township: 1" in r.text
    r = client.post("/ui/assign", data={"definition": "matrix-check", "scope": "K01", "action": "create"})
    assert r.status_code == 200 and "已下达" in r.text
    r = client.post("/ui/assign", data={"definition": "matrix-check", "scope": "C01", "action": "preview"})
    assert r.status_code == 404
    assert client.get("/ui/supervision").status_code == 200
    r = client.get("/ui/report")
    assert r.status_code == 200 and 'role="progressbar"' in r.text and "莞城社区工会联合会" in r.text
    assert client.get("/ui/report/C01").status_code == 404
    r = client.get("/ui/todo?lang=en")
    assert ("To-do" in r.text and r.cookies.get("lang") == "en") or "lang=en" in r.headers.get(
        "set-cookie", ""
    )
    assert "To-do" in client.get("/ui/todo").text
    client.post("/logout")
    assert client.get("/ui/todo", follow_redirects=False).status_code == 303
