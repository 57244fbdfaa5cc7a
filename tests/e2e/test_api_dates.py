"""Dates from another millennium and progress that is not a number: a clear 422, never a 500."""

from __future__ import annotations

import pytest
from conftest import sign_in
from fastapi.testclient import TestClient

FAR = ["9999-12-31", "0001-01-01", "1899-06-30"]


@pytest.mark.parametrize("day", FAR)
def test_far_dates_are_refused_where_they_are_given(client: TestClient, day: str) -> None:
    admin = sign_in(client, "c01-admin")
    for path in ("/api/v1/assignments/preview", "/api/v1/assignments"):
        r = client.post(path, json={"definition": "test-congress", "scope": "C01", "due": day}, headers=admin)
        assert r.status_code == 422, r.text
        assert "2000" in r.text and "2100" in r.text
    r = client.post(
        "/api/v1/events",
        json={"name": "cadre.appointed", "unit": "G01", "at": f"{day}T00:00:00+08:00"},
        headers=admin,
    )
    assert r.status_code == 422, r.text
    made = client.post(
        "/api/v1/assignments", json={"definition": "test-congress", "scope": "C01"}, headers=admin
    )
    assert made.status_code == 201, made.text
    task = client.get("/api/v1/tasks?unit=G01", headers=admin).json()["items"][0]["id"]
    r = client.post(f"/api/v1/tasks/{task}/extend", json={"due": day, "reason": "x"}, headers=admin)
    assert r.status_code == 422, r.text
    r = client.post(
        f"/api/v1/tasks/{task}/submit",
        data={"form": f'{{"held_on": "{day}", "attendance": 10}}'},
        headers=sign_in(client, "g01-staff"),
    )
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_progress_must_be_a_number(client: TestClient, value: str) -> None:
    admin = sign_in(client, "c01-admin")
    made = client.post(
        "/api/v1/assignments",
        json={"definition": "test-organise", "scope": "C01", "targets": {"K01": 3}},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    task = client.get("/api/v1/tasks?unit=K01", headers=admin).json()["items"][0]["id"]
    r = client.post(
        f"/api/v1/tasks/{task}/submit", data={"progress": value}, headers=sign_in(client, "k01-staff")
    )
    assert r.status_code == 422, r.text
    assert client.get(f"/api/v1/tasks/{task}", headers=admin).json()["progress_own"] == 0


def test_a_report_takes_a_period(client: TestClient) -> None:
    admin = sign_in(client, "c01-admin")
    made = client.post(
        "/api/v1/assignments", json={"definition": "test-congress", "scope": "C01"}, headers=admin
    )
    assert made.status_code == 201, made.text
    this = client.get("/api/v1/units/C01/report?period=2026", headers=admin)
    other = client.get("/api/v1/units/C01/report?period=2027", headers=admin)
    assert (this.status_code, other.status_code) == (200, 200)
    assert this.json()["total"]["tasks"] == 4 and this.json()["period"] == "2026"
    assert other.json()["total"]["tasks"] == 0
    book = client.get("/api/v1/units/C01/report.xlsx?period=2027", headers=admin)
    assert book.status_code == 200 and book.content[:2] == b"PK"
    bad = client.get("/api/v1/units/C01/report?period=2026-13", headers=admin)
    assert bad.status_code == 422 and "period" in bad.text
