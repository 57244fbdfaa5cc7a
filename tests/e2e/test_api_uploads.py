"""Refused uploads change nothing: wrong type, too big, a bad form, a bad definition, a bad unit file."""

from __future__ import annotations

from pathlib import Path

from conftest import PNG, World, sign_in
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, select

from duban.engine.access.actors import actor_for
from duban.engine.store.db import write_session
from duban.engine.store.models import Task
from duban.engine.work import fanout


def dump(db: Engine) -> dict[str, list[str]]:
    meta = MetaData()
    meta.reflect(db)
    with db.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(t.select()).all())) for t in meta.sorted_tables}


def blobs(world: World) -> list[Path]:
    root = world.tmp / "data" / "files"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def plaque_task(world: World) -> int:
    with write_session(world.db) as s:
        result = fanout.assign_definition(s, world.rt, actor_for(s, "c01-admin"), "test-plaque", "C01")
        return s.scalar(
            select(Task.id).where(Task.assignment_id == result.assignment_id).order_by(Task.unit_id)
        )


def test_refused_uploads_change_nothing(world: World, client: TestClient) -> None:
    task_id = plaque_task(world)  # G01's plaque task: a form and at least one photo
    headers = sign_in(client, "g01-staff")
    before, files_before = dump(world.db), blobs(world)
    url = f"/api/v1/tasks/{task_id}/submit"
    form = client.get(f"/api/v1/tasks/{task_id}", headers=headers).json()
    assert form["unit_code"] == "G01"
    cases = {
        "type": {"files": [("files", ("plaque.png", b"MZ\x90\x00 not an image at all", "image/png"))]},
        "size": {"files": [("files", ("big.png", PNG + b"\0" * (1024 * 1024 + 1), "image/png"))]},
        "form": {"data": {"form": "{not json"}, "files": [("files", ("p.png", PNG, "image/png"))]},
        "attachments": {"data": {"form": "{}"}},
    }
    for field, kwargs in cases.items():
        r = client.post(url, headers=headers, **kwargs)
        assert r.status_code == 422, (field, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert any(e["field"] == field for e in r.json()["errors"]), r.json()
        assert dump(world.db) == before
        assert blobs(world) == files_before


def test_a_body_over_the_cap_is_refused_before_reading(world: World, client: TestClient) -> None:
    task_id = plaque_task(world)
    headers = sign_in(client, "g01-staff")
    before = dump(world.db)
    r = client.post(
        f"/api/v1/tasks/{task_id}/submit",
        headers=headers,
        files=[("files", ("huge.png", PNG + b"\0" * (7 * 1024 * 1024), "image/png"))],
    )
    assert r.status_code == 413
    assert dump(world.db) == before


def test_a_bad_definition_is_refused_whole_with_file_line_field(world: World, client: TestClient) -> None:
    headers = sign_in(client, "c01-admin")
    before = dump(world.db)
    good = b"id: fine-one\ntitle: t\ntitle_en: t\nsource: s\napplies_to: {levels: [grassroots]}\ntrigger: assigned\ndue: {after: P10D}\n"
    bad = b"id: bad-one\ntitle: t\ntitle_en: t\nsource: s\napplies_to: {levels: [grassroots]}\ntrigger: assigned\ndue: {after: soon}\n"
    r = client.post(
        "/api/v1/definitions",
        headers=headers,
        files=[
            ("files", ("good.yaml", good, "application/yaml")),
            ("files", ("bad.yaml", bad, "application/yaml")),
        ],
    )
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert {
        "where": "bad.yaml:7",
        "field": "due.after",
        "message": "'soon' is not an ISO-8601 duration such as P30D or PT24H",
    } in errors, errors
    assert dump(world.db) == before
    r = client.post(
        "/api/v1/definitions", headers=headers, files=[("files", ("good.yaml", good, "application/yaml"))]
    )
    assert r.status_code == 200 and r.json() == [{"id": "fine-one", "version": 1, "status": "new"}]


def test_a_bad_unit_file_is_refused_whole(world: World, client: TestClient) -> None:
    headers = sign_in(client, "c01-admin")
    before = dump(world.db)
    body = "code,name,parent_code,level,tags,attrs\nN01,新工会,C01,grassroots,,\nN02,坏工会,NOPE,grassroots,,\n".encode()
    r = client.post(
        "/api/v1/units/import", headers=headers, files={"file": ("../../etc/units.csv", body, "text/csv")}
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["where"] == "units.csv:3"
    assert dump(world.db) == before
    ok = "code,name,parent_code,level,tags,attrs\nN01,新工会,C01,grassroots,,\n".encode()
    r = client.post("/api/v1/units/import", headers=headers, files={"file": ("units.csv", ok, "text/csv")})
    assert r.status_code == 200 and r.json()["created"] == 1


def test_a_submitted_file_downloads_within_scope_only(world: World, client: TestClient) -> None:
    task_id = plaque_task(world)
    staff = sign_in(client, "g01-staff")
    form: dict[str, str] = {}
    r = client.post(
        f"/api/v1/tasks/{task_id}/submit",
        headers=staff,
        data=form,
        files=[("files", ("牌子.png", PNG, "image/png"))],
    )
    if r.status_code != 200:  # the test definition's form may differ: show what it asks
        raise AssertionError(r.text)
    doc = client.get(f"/api/v1/tasks/{task_id}", headers=staff).json()
    sha = doc["files"][0]["sha256"]
    r = client.get(f"/api/v1/files/{task_id}/{sha}", headers=staff)
    assert r.status_code == 200 and r.content == PNG and r.headers["content-type"] == "image/png"
    assert (
        client.get(f"/api/v1/files/{task_id}/{sha}", headers=sign_in(client, "g02-admin")).status_code == 404
    )


def test_a_definition_upload_is_refused_below_its_owner(world: World, client: TestClient) -> None:
    # The fixture's definitions were loaded by the operator for the top-level unions.
    headers = sign_in(client, "g01-admin")
    before = dump(world.db)
    changed = (Path(__file__).parents[1] / "fixtures" / "defs" / "congress.yaml").read_bytes()
    changed = changed.replace(b"approval: [parent, issuer]", b"approval: []")
    r = client.post(
        "/api/v1/definitions",
        headers=headers,
        files=[("files", ("congress.yaml", changed, "application/yaml"))],
    )
    assert r.status_code == 403, r.text
    assert "test-congress" in r.json()["detail"]
    assert dump(world.db) == before
    r = client.post(
        "/api/v1/definitions",
        headers=sign_in(client, "c01-admin"),
        files=[("files", ("congress.yaml", changed, "application/yaml"))],
    )
    assert r.status_code == 200 and r.json() == [{"id": "test-congress", "version": 2, "status": "updated"}]
