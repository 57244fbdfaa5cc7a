"""Signing in, tokens, throttling, the error shape, and that every /api route demands a caller."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio.to_thread
from conftest import PASSWORD, World, settings_for, sign_in
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.api.app import create_app
from duban.api.deps import api_ctx
from duban.engine.store.db import read_session
from duban.engine.store.models import ApiToken

OPEN = {"/api/v1/auth/token"}


def _depends_on(dependant: Any, target: Any) -> bool:
    return any(d.call is target or _depends_on(d, target) for d in dependant.dependencies)


def test_every_api_route_requires_a_caller(app: Any) -> None:
    bare = [
        r.path
        for r in app.routes
        if isinstance(r, APIRoute)
        and r.path.startswith("/api")
        and r.path not in OPEN
        and not _depends_on(r.dependant, api_ctx)
    ]
    assert bare == []


def test_every_api_route_answers_401_without_a_token(app: Any, client: TestClient) -> None:
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.path.startswith("/api") or route.path in OPEN:
            continue
        path = (
            route.path.replace("{task_id}", "1")
            .replace("{sha256}", "a" * 64)
            .replace("{code}", "C01")
            .replace("{def_id}", "x")
            .replace("{assignment_id}", "1")
        )
        for method in route.methods:
            r = client.request(method, path, headers={"Authorization": "Bearer nonsense"})
            assert r.status_code == 401, (method, path, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.headers["www-authenticate"] == "Bearer"
            assert client.request(method, path).status_code == 401


def test_openapi_declares_security_on_every_route_but_sign_in(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op.get("summary") and op.get("description"), (method, path)
            assert any(
                c.get("example") is not None or c.get("examples")
                for r in op["responses"].values()
                for c in r.get("content", {}).values()
            ), (method, path)
            if path in OPEN:
                assert not op.get("security")
            else:
                assert op.get("security") == [{"OAuth2PasswordBearer": []}], (method, path)


def test_token_is_stored_hashed_expires_and_is_revocable(world: World, client: TestClient) -> None:
    r = client.post("/api/v1/auth/token", data={"username": "g01-staff", "password": PASSWORD})
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 12 * 3600
    token = body["access_token"]
    with read_session(world.db) as s:
        stored = s.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and len(stored) == 1
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=headers).json() == {
        "name": "g01-staff",
        "role": "staff",
        "unit_code": "G01",
    }
    # Expiry follows the runtime's clock.
    world.rt.clock.set(world.rt.now() + timedelta(hours=12, seconds=1))
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    headers = sign_in(client, "g01-staff")
    assert client.post("/api/v1/auth/logout", headers=headers).json() == {"revoked": True}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_wrong_password_then_throttled_with_retry_after(world: World, client: TestClient) -> None:
    for _ in range(5):
        r = client.post("/api/v1/auth/token", data={"username": "g01-staff", "password": "wrong-password"})
        assert r.status_code == 401
        assert r.json()["title"] == "Unauthenticated"
    r = client.post("/api/v1/auth/token", data={"username": "g01-staff", "password": PASSWORD})
    assert r.status_code == 429
    assert 0 < int(r.headers["retry-after"]) <= 15 * 60
    assert r.headers["content-type"].startswith("application/problem+json")
    # Another account from the same address is not locked out by these five.
    sign_in(client, "g02-staff")
    world.rt.clock.set(world.rt.now() + timedelta(minutes=16))
    sign_in(client, "g01-staff")


def test_unknown_account_counts_as_a_failure_too(client: TestClient) -> None:
    for _ in range(5):
        assert (
            client.post("/api/v1/auth/token", data={"username": "nobody", "password": "x"}).status_code == 401
        )
    assert client.post("/api/v1/auth/token", data={"username": "nobody", "password": "x"}).status_code == 429


def test_change_password_revokes_tokens(client: TestClient) -> None:
    headers = sign_in(client, "g01-staff")
    r = client.post(
        "/api/v1/auth/password",
        headers=headers,
        json={"old_password": "nope", "new_password": "newpassword1"},
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [{"where": "password", "field": "old_password", "message": "does not match"}]
    r = client.post(
        "/api/v1/auth/password",
        headers=headers,
        json={"old_password": PASSWORD, "new_password": "newpassword1"},
    )
    assert r.status_code == 200
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    sign_in(client, "g01-staff", "newpassword1")


def test_errors_are_problem_json(client: TestClient) -> None:
    headers = sign_in(client, "k01-admin")
    r = client.get("/api/v1/units/NOPE", headers=headers)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json() == {
        "type": "https://duban.dev/problems/NotFound",
        "title": "Not found",
        "status": 404,
        "detail": "unit NOPE not found",
    }
    r = client.get("/api/v1/units/C01", headers=headers)  # above the caller: exactly like a missing unit
    assert r.status_code == 404 and r.json()["detail"] == "unit C01 not found"
    r = client.get("/api/v1/tasks?limit=0", headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "limit"


def test_responses_carry_the_security_headers_once(client: TestClient) -> None:
    for r in (
        client.get("/api/v1/auth/me", headers=sign_in(client, "g01-staff")),
        client.get("/api/v1/auth/me"),
        client.get("/openapi.json"),
    ):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["x-frame-options"] == "DENY"
        assert len(r.headers.get_list("x-content-type-options")) == 1


def test_the_app_runs_its_routes_on_the_configured_threads(world: World) -> None:
    seen: list[float] = []
    app = create_app(settings_for(world.tmp, threads=3), engine=world.db, runtime=world.rt)

    @app.get("/probe")
    def probe() -> dict[str, bool]:
        return {"ok": True}

    @app.middleware("http")
    async def record(request, call_next):  # type: ignore[no-untyped-def]
        seen.append(anyio.to_thread.current_default_thread_limiter().total_tokens)
        return await call_next(request)

    with TestClient(app) as client:
        assert client.get("/probe").json() == {"ok": True}
    assert seen == [3]
