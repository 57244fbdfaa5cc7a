"""The permission matrix: every API route × role × where the caller stands relative to the target.

The target is a task of township T01, assigned by its parent K01 with approval by
the parent. Callers sit at T01 itself (own), K01 (parent), G01 (child), T02
(sibling) and X01 (another city), each as admin, staff and viewer. The expected
status of each cell is computed from the rules in DESIGN and engine/permissions.py
— subtree or 404, role or 403 — never read off the app.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from conftest import PNG, ROLES, World, sign_in
from fastapi.testclient import TestClient

from duban.engine.access.actors import actor_for
from duban.engine.store.db import write_session
from duban.engine.work import fanout, lifecycle
from duban.engine.work.attachments import store_file

POSITIONS = {"own": "T01", "parent": "K01", "child": "G01", "sibling": "T02", "other_city": "X01"}


def fresh_task(world: World, submitted: bool = False, attach: bool = False) -> tuple[int, int]:
    """A new assignment of matrix-check by k01-admin over T01: (assignment id, task id)."""
    with write_session(world.db) as s:
        result = fanout.assign_definition(s, world.rt, actor_for(s, "k01-admin"), "matrix-check", "T01")
        from sqlalchemy import select

        from duban.engine.store.models import Task

        task_id = s.scalar(select(Task.id).where(Task.assignment_id == result.assignment_id))
        if submitted or attach:
            files = [store_file(world.rt, io.BytesIO(PNG), "p.png")] if attach else []
            lifecycle.submit_task(
                s, world.rt, actor_for(s, "t01-staff"), task_id, form={"note": "ok"}, files=files
            )
    return result.assignment_id, task_id


Cell = Callable[[TestClient, dict[str, str], World], int]


def call(method: str, path: Callable[[World], str], **kwargs: Any) -> Cell:
    def run(client: TestClient, headers: dict[str, str], world: World) -> int:
        return client.request(method, path(world), headers=headers, **kwargs).status_code

    return run


def on_task(method: str, suffix: str, submitted: bool = False, attach: bool = False, **kwargs: Any) -> Cell:
    def run(client: TestClient, headers: dict[str, str], world: World) -> int:
        _, task_id = fresh_task(world, submitted, attach)
        if suffix == "file":
            sha = client.get(f"/api/v1/tasks/{task_id}", headers=sign_in(client, "k01-admin")).json()[
                "files"
            ][0]["sha256"]
            return client.get(f"/api/v1/files/{task_id}/{sha}", headers=headers).status_code
        return client.request(
            method, f"/api/v1/tasks/{task_id}{suffix}", headers=headers, **kwargs
        ).status_code

    return run


def withdraw(client: TestClient, headers: dict[str, str], world: World) -> int:
    assignment_id, _ = fresh_task(world)
    return client.post(
        f"/api/v1/assignments/{assignment_id}/withdraw", headers=headers, json={"reason": "x"}
    ).status_code


def import_units(client: TestClient, headers: dict[str, str], world: World) -> int:
    body = "code,name,parent_code,level,tags,attrs\nX01,越秀区总工会,C02,county,,\n".encode()
    return client.post(
        "/api/v1/units/import", headers=headers, files={"file": ("u.csv", body, "text/csv")}
    ).status_code


def upload_definition(client: TestClient, headers: dict[str, str], world: World) -> int:
    from conftest import MATRIX_DEF

    return client.post(
        "/api/v1/definitions",
        headers=headers,
        files={"files": ("m.yaml", MATRIX_DEF.encode(), "application/yaml")},
    ).status_code


SCOPE = {"definition": "matrix-check", "scope": "T01"}
ROUTES: dict[str, Cell] = {
    "GET tasks (to-do)": call("GET", lambda w: "/api/v1/tasks"),
    "GET tasks?unit=T01": call("GET", lambda w: "/api/v1/tasks?unit=T01"),
    "GET tasks/{id}": on_task("GET", ""),
    "POST submit": on_task("POST", "/submit", data={"form": '{"note": "ok"}'}),
    "POST approve": on_task("POST", "/approve", submitted=True, json={"reason": ""}),
    "POST reject": on_task("POST", "/reject", submitted=True, json={"reason": "再补充"}),
    "POST waive": on_task("POST", "/waive", json={"reason": "不适用"}),
    "POST extend": on_task("POST", "/extend", json={"due": "2026-06-30", "reason": "延期"}),
    "POST urge": on_task("POST", "/urge", json={"reason": "请尽快"}),
    "GET files": on_task("GET", "file", attach=True),
    "GET units": call("GET", lambda w: "/api/v1/units"),
    "GET units/T01": call("GET", lambda w: "/api/v1/units/T01"),
    "GET units/T01/report": call("GET", lambda w: "/api/v1/units/T01/report"),
    "GET units/T01/report.xlsx": call("GET", lambda w: "/api/v1/units/T01/report.xlsx"),
    "POST units/import": import_units,
    "GET definitions": call("GET", lambda w: "/api/v1/definitions"),
    "GET definitions/{id}": call("GET", lambda w: "/api/v1/definitions/matrix-check"),
    "POST definitions": upload_definition,
    "POST assignments/preview": call("POST", lambda w: "/api/v1/assignments/preview", json=SCOPE),
    "POST assignments": call("POST", lambda w: "/api/v1/assignments", json=SCOPE),
    "GET assignments": call("GET", lambda w: "/api/v1/assignments"),
    "POST assignments/{id}/withdraw": withdraw,
    "GET plans": call("GET", lambda w: "/api/v1/plans"),
    # The seed's plan over this world, which holds none of its items: past the permission check, refused whole.
    "POST plans/{id}/assign": call(
        "POST", lambda w: "/api/v1/plans/city-union-opinions/assign", json={"scope": "T01"}
    ),
    "POST events": call("POST", lambda w: "/api/v1/events", json={"name": "nothing.happened", "unit": "T01"}),
    "GET supervision?unit=T01": call("GET", lambda w: "/api/v1/supervision?unit=T01"),
    "GET inbox": call("GET", lambda w: "/api/v1/inbox"),
    "POST inbox/read": call("POST", lambda w: "/api/v1/inbox/read", json={}),
    "GET calendar": call("GET", lambda w: "/api/v1/calendar?month=2026-10"),
    "GET auth/me": call("GET", lambda w: "/api/v1/auth/me"),
}


def expected(route: str, role: str, pos: str) -> int:
    """The status the rules give this cell."""
    sees = pos in ("own", "parent")  # T01 lies in the subtrees of T01 and K01 only
    admin = role == "admin"
    if route in (
        "GET tasks (to-do)",
        "GET units",
        "GET definitions",
        "GET definitions/{id}",
        "GET assignments",
        "GET inbox",
        "POST inbox/read",
        "GET calendar",
        "GET auth/me",
        "GET plans",
    ):
        return 200
    if route in (
        "GET tasks?unit=T01",
        "GET tasks/{id}",
        "GET files",
        "GET units/T01",
        "GET units/T01/report",
        "GET units/T01/report.xlsx",
        "GET supervision?unit=T01",
    ):
        return 200 if sees else 404
    if route == "POST units/import":  # an admin, each row inside its subtree: this row (X01 under C02) is not
        return 422 if admin else 403
    if route == "POST definitions":
        return 200 if admin else 403
    if route == "POST assignments/{id}/withdraw":  # issuer K01 or above, else not found
        if pos != "parent":
            return 404
        return 200 if admin else 403
    if not sees:
        return 404
    if route == "POST submit":  # staff or admin of the task's own unit
        return 200 if pos == "own" and role in ("admin", "staff") else 403
    if route in ("POST approve", "POST reject"):  # an admin of the parent, the step's approver
        return 200 if admin and pos == "parent" else 403
    if route == "POST waive":  # an admin of the issuer (K01) or above
        return 200 if admin and pos == "parent" else 403
    if route in ("POST extend", "POST urge"):  # an admin of a unit above the task's unit
        return 200 if admin and pos != "own" else 403
    if route == "POST assignments/preview":
        return 200 if admin else 403
    if route == "POST assignments":
        return 201 if admin else 403
    if route == "POST plans/{id}/assign":
        return 422 if admin else 403
    if route == "POST events":
        return 403 if role == "viewer" else 201
    raise AssertionError(f"no rule for {route}")


def test_permission_matrix(world: World, client: TestClient) -> None:
    headers = {
        (pos, role): sign_in(client, f"{code.lower()}-{role}")
        for pos, code in POSITIONS.items()
        for role in ROLES
    }
    want, got = {}, {}
    for route, cell in ROUTES.items():
        for pos in POSITIONS:
            for role in ROLES:
                want[route, role, pos] = expected(route, role, pos)
                got[route, role, pos] = cell(client, headers[pos, role], world)
    wrong = {k: (want[k], got[k]) for k in want if want[k] != got[k]}
    assert wrong == {}, "\n".join(f"{k}: want {w}, got {g}" for k, (w, g) in sorted(wrong.items()))


def test_every_api_route_is_in_the_matrix(app: Any) -> None:
    from fastapi.routing import APIRoute

    api = {
        (m, r.path)
        for r in app.routes
        if isinstance(r, APIRoute) and r.path.startswith("/api/")
        for m in r.methods
    }
    covered = {
        "/api/v1/auth/token",
        "/api/v1/auth/logout",
        "/api/v1/auth/password",
    }  # covered in test_api_auth.py
    named = {r.split(" ", 1)[1].split("?")[0] for r in ROUTES}
    missing = {(m, p) for m, p in api if p not in covered and not any(_same(p, n) for n in named)}
    assert missing == set()


def _same(template: str, concrete: str) -> bool:
    t, c = template.strip("/").split("/"), ("api/v1/" + concrete).strip("/").split("/")
    if len(t) != len(c):
        return False
    return all(
        a == b
        or a.startswith("{")
        or (b.startswith("{") and a.startswith("{"))
        or (a.startswith("{") and b in ("T01", "matrix-check"))
        or (a.startswith("{") and b.startswith("{"))
        for a, b in zip(t, c, strict=True)
    )
