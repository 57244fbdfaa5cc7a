"""The seed's own items as a county uses them at year's end: 送温暖 figures and the congress rate, by hand and by duban."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from duban.engine.access.accounts import add_account
from duban.engine.access.actors import OPERATOR, actor_for
from duban.engine.assess import ledger
from duban.engine.language.loader import load_paths
from duban.engine.org.units import import_units
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Assignment, Task, Unit
from duban.engine.work import fanout, lifecycle
from duban.engine.work.attachments import store_file
from duban.engine.work.catalog import store_definitions

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def _tasks(db: Engine, def_id: str) -> dict[str, list[int]]:
    with read_session(db) as s:
        rows = s.execute(
            select(Unit.code, Task.id)
            .join(Task, Task.unit_id == Unit.id)
            .join(Assignment, Assignment.id == Task.assignment_id)
            .where(Assignment.def_id == def_id)
            .order_by(Task.id)
        ).all()
    out: dict[str, list[int]] = {}
    for code, task_id in rows:
        out.setdefault(code, []).append(task_id)
    return out


def test_send_warmth_and_the_congress_rate_match_a_hand_count(db: Engine, replay: Any) -> None:
    rt = replay.rt
    replay.at("2026-01-05T09:00")
    with write_session(db) as s:
        import_units(s, rt.now(), OPERATOR, FIXTURES / "tree.csv")
        store_definitions(
            s,
            rt.now(),
            OPERATOR,
            load_paths(
                [
                    ROOT / "definitions" / "send-warmth-campaign.yaml",
                    ROOT / "definitions" / "member-congress-annual.yaml",
                ]
            ),
        )
        for name, code in (
            ("k01-admin", "K01"),
            ("t01-admin", "T01"),
            ("g01-staff", "G01"),
            ("g02-staff", "G02"),
        ):
            add_account(s, rt.now(), OPERATOR, name, code, name.split("-")[1], "password123")
    with write_session(db) as s:
        k01 = actor_for(s, "k01-admin")
        fanout.assign_definition(s, rt, k01, "send-warmth-campaign", "K01")
        fanout.assign_definition(s, rt, k01, "member-congress-annual", "K01")
    warmth, congress = _tasks(db, "send-warmth-campaign"), _tasks(db, "member-congress-annual")

    def submit(at: str, name: str, task: int, form: dict[str, Any], labels: list[str]) -> None:
        replay.at(at)
        stored = [store_file(rt, _png(i), f"p{i}.png", label) for i, label in enumerate(labels)]
        with write_session(db) as s:
            lifecycle.submit_task(s, rt, actor_for(s, name), task, form=form, files=stored)

    # 送温暖, 2026-Q1: both branches report (no approval: done as handed in); nobody else yet.
    roll = ["慰问名册"]
    submit(
        "2026-02-10T10:00",
        "g01-staff",
        warmth["G01"][0],
        {"households_visited": 12, "funds_yuan": 6000, "goods_value_yuan": 1500},
        roll,
    )
    submit(
        "2026-02-11T10:00", "g02-staff", warmth["G02"][0], {"households_visited": 3, "funds_yuan": 900}, roll
    )
    # The congress: G01 held one (approved by T01), G02 not yet.
    submit(
        "2026-03-20T10:00",
        "g01-staff",
        congress["G01"][0],
        {"held_on": "2026-03-18", "kind": "会员大会", "members_total": 80, "attendees": 72},
        ["会议记录", "签到表"],
    )
    replay.at("2026-03-21T10:00")
    with write_session(db) as s:
        lifecycle.approve_task(s, rt, actor_for(s, "t01-admin"), congress["G01"][0])

    replay.at("2026-04-01T10:00")
    with read_session(db) as s:
        county = actor_for(s, "k01-admin")
        warm = ledger.figures(s, rt, county, "send-warmth-campaign", "K01", "2026-Q1")
        held = ledger.figures(s, rt, county, "member-congress-annual", "K01", "2026")
    # By hand: 12 + 3 households, 6000 + 900 yuan, 1500 in goods; G01 and G02 of the county's two branches.
    assert (warm["total"]["households"], warm["total"]["funds"], warm["total"]["goods"]) == (15, 6900, 1500)
    # 1 of 2 grassroots unions held its congress (approved): 50 %; 72 of 80 present: 90 %.
    assert (held["total"]["held"], held["total"]["held_rate"], held["total"]["attendance_rate"]) == (
        1,
        50.0,
        90.0,
    )


def _png(i: int) -> Any:
    import io

    return io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes([i]) * 64)
