"""Fan-out, roll-over, events and the task lifecycle, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select

from duban.engine.access.accounts import add_account
from duban.engine.access.actors import OPERATOR, actor_for
from duban.engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from duban.engine.language.loader import load_paths
from duban.engine.org.units import import_units
from duban.engine.overview.tasks import TaskFilter, list_tasks, show_task
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import (
    Account,
    Assignment,
    Audit,
    DefinitionVersion,
    Notification,
    Person,
    Task,
    Unit,
)
from duban.engine.work import fanout, lifecycle
from duban.engine.work.attachments import store_file
from duban.engine.work.catalog import definition_of, store_definitions
from duban.engine.work.targets import split_target

FIXTURES = Path(__file__).parent.parent / "fixtures"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
def world(db: Engine, replay):  # type: ignore[no-untyped-def]
    """The sample tree, the test definitions and one account per unit and role."""
    with write_session(db) as s:
        now = replay.rt.now()
        import_units(s, now, OPERATOR, FIXTURES / "tree.csv")
        store_definitions(s, now, OPERATOR, load_paths([FIXTURES / "defs"]))
        first = add_account(s, now, OPERATOR, "c01-admin", "C01", "admin", "password123")
        units = dict(s.execute(select(Unit.code, Unit.id)).all())
        # One real hash is enough; the other accounts share it to keep the fixture fast.
        s.execute(
            insert(Account.__table__),
            [
                {
                    "name": f"{code.lower()}-{role}",
                    "unit_id": units[code],
                    "role": role,
                    "password_hash": first.password_hash,
                    "active": True,
                    "created_at": now,
                }
                for code in ("C01", "K01", "K02", "T01", "T02", "G01", "G02", "G03", "G04")
                for role in ("admin", "staff", "viewer")
                if (code, role) != ("C01", "admin")
            ],
        )
    return db


def act(s, name):  # type: ignore[no-untyped-def]
    return actor_for(s, name)


def tasks_of(db: Engine, assignment_id: int) -> list[Task]:
    with read_session(db) as s:
        return list(s.scalars(select(Task).where(Task.assignment_id == assignment_id).order_by(Task.unit_id)))


def count(db: Engine, model, *where) -> int:  # type: ignore[no-untyped-def]
    with read_session(db) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_assigned_fan_out_is_set_based_and_idempotent(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    replay.at("2026-02-12T10:00")
    with write_session(world) as s:
        result = fanout.assign_definition(s, replay.rt, act(s, "c01-admin"), "test-plaque", "C01")
    # applies_to: grassroots with tag non_public → G01, G03
    assert result.created == 2
    made = tasks_of(world, result.assignment_id)
    # 10 working days after Thursday 2026-02-12 on the statutory calendar: 02-13, Saturday 02-14
    # (adjusted working day), then the Spring Festival break 02-15..02-23, then 02-24..02-27,
    # Saturday 02-28 (adjusted), 03-02, 03-03 and 03-04.
    assert {t.due_at.astimezone(replay.rt.tz).date() for t in made} == {date(2026, 3, 4)}
    assert (
        count(world, Audit, Audit.action == "task.created", Audit.assignment_id == result.assignment_id) == 2
    )
    with write_session(world) as s:
        assignment = s.get(Assignment, result.assignment_id)
        defn = definition_of(s.get(DefinitionVersion, assignment.definition_version_id))
        root = s.scalar(select(Unit.path).where(Unit.code == "C01"))
        again = fanout.insert_tasks(
            s,
            replay.rt,
            "test",
            assignment,
            defn,
            fanout.timeline_for(replay.rt, defn, replay.rt.now(), None, None),
            fanout.matching_units(defn, root),
        )
    assert again == 0
    assert len(tasks_of(world, result.assignment_id)) == 2


def test_recurring_roll_over_opens_each_period_once(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    replay.at("2026-03-02T10:00")
    with write_session(world) as s:
        result = fanout.assign_definition(s, replay.rt, act(s, "c01-admin"), "test-congress", "C01")
    assert (result.created, result.period) == (4, "2026")
    with write_session(world) as s:
        assert fanout.roll_over(s, replay.rt) == 0
    replay.at("2027-01-01T00:05")
    with write_session(world) as s:
        assert fanout.roll_over(s, replay.rt) == 4
    with write_session(world) as s:
        assert fanout.roll_over(s, replay.rt) == 0
    periods = sorted(t.period for t in tasks_of(world, result.assignment_id))
    assert periods == ["2026"] * 4 + ["2027"] * 4


def test_a_unit_that_joins_the_scope_gets_its_task(world: Engine, replay, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    replay.at("2026-03-02T10:00")
    with write_session(world) as s:
        result = fanout.assign_definition(s, replay.rt, act(s, "c01-admin"), "test-congress", "C01")
    replay.at("2026-04-01T10:00")
    new = tmp_path / "new.csv"
    new.write_text(
        "code,name,parent_code,level,tags,attrs\nG05,新建工会,T02,grassroots,,\n", encoding="utf-8"
    )
    with write_session(world) as s:
        import_units(s, replay.rt.now(), OPERATOR, new)
        assert fanout.reconcile_scopes(s, replay.rt) == 1
    with write_session(world) as s:
        assert fanout.reconcile_scopes(s, replay.rt) == 0
    assert len(tasks_of(world, result.assignment_id)) == 5


def test_events_create_tasks_only_inside_a_listening_scope(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    with write_session(world) as s:
        a = fanout.assign_definition(s, replay.rt, act(s, "k01-admin"), "test-training", "K01")
        s.execute(
            insert(Person.__table__),
            [
                {
                    "ext_id": "P1",
                    "name": "张三",
                    "unit_id": s.scalar(select(Unit.id).where(Unit.code == "G01")),
                    "kind": "member",
                },
                {
                    "ext_id": "P2",
                    "name": "李四",
                    "unit_id": s.scalar(select(Unit.id).where(Unit.code == "G03")),
                    "kind": "member",
                },
            ],
        )
    with write_session(world) as s:
        inside = fanout.post_event(s, replay.rt, OPERATOR, "cadre.appointed", "G01", subject="P1")
        outside = fanout.post_event(s, replay.rt, OPERATOR, "cadre.appointed", "G03", subject="P2")
        again = fanout.post_event(s, replay.rt, OPERATOR, "cadre.appointed", "G01", subject="P1")
    assert len(inside) == 1 and outside == [] and again == []
    (task,) = tasks_of(world, a.assignment_id)
    assert task.subject == "P1"
    assert task.due_at.astimezone(replay.rt.tz).date() == date(2027, 3, 2)


def test_submit_approve_chain(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    with write_session(world) as s:
        a = fanout.assign_definition(s, replay.rt, act(s, "c01-admin"), "test-congress", "C01")
    task = next(t for t in tasks_of(world, a.assignment_id) if t.unit_id == 6)  # G01 (id 6 in tree.csv order)
    form = {"held_on": "2026-03-01", "attendance": 80}
    # a sibling branch cannot even see it; a viewer cannot submit; bad evidence is refused with the field
    with write_session(world) as s, pytest.raises(NotFound):
        lifecycle.submit_task(s, replay.rt, act(s, "g02-admin"), task.id, form=form)
    with write_session(world) as s, pytest.raises(Forbidden):
        lifecycle.submit_task(s, replay.rt, act(s, "g01-viewer"), task.id, form=form)
    with write_session(world) as s, pytest.raises(InvalidInput) as bad:
        lifecycle.submit_task(
            s, replay.rt, act(s, "g01-staff"), task.id, form={"held_on": "2025-12-01", "attendance": 0}
        )
    assert "form.held_on: 2025-12-01 is outside the task's period 2026" in str(bad.value)
    assert "form.attendance: at least 1" in str(bad.value)
    with write_session(world) as s:
        assert (
            lifecycle.submit_task(s, replay.rt, act(s, "g01-staff"), task.id, form=form).state == "submitted"
        )
    # approval: parent (T01) first, then the issuer (C01); others are refused
    with write_session(world) as s, pytest.raises(Forbidden):
        lifecycle.approve_task(s, replay.rt, act(s, "c01-admin"), task.id)
    with write_session(world) as s, pytest.raises(Forbidden):
        lifecycle.approve_task(s, replay.rt, act(s, "t01-staff"), task.id)
    with write_session(world) as s:
        assert lifecycle.approve_task(s, replay.rt, act(s, "t01-admin"), task.id).state == "submitted"
    with write_session(world) as s:
        assert lifecycle.approve_task(s, replay.rt, act(s, "c01-admin"), task.id).state == "done"
    with write_session(world) as s, pytest.raises(Conflict):
        lifecycle.approve_task(s, replay.rt, act(s, "c01-admin"), task.id)
    # the branch hears once, when the last step approves
    assert count(world, Notification, Notification.task_id == task.id, Notification.kind == "approved") == 1
    with read_session(world) as s:
        actions = [e["action"] for e in show_task(s, replay.rt.tz, OPERATOR, task.id)["audit"]]
    assert actions == ["task.created", "task.submitted", "task.approved", "task.approved"]


def test_reject_returns_to_the_branch_and_nobody_approves_their_own(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    with write_session(world) as s:
        a = fanout.assign_definition(s, replay.rt, act(s, "t01-admin"), "test-congress", "T01")
    task = tasks_of(world, a.assignment_id)[0]
    form = {"held_on": "2026-03-01", "attendance": 80}
    unit_admin = {6: "g01-admin", 7: "g02-admin"}[task.unit_id]
    with write_session(world) as s:
        lifecycle.submit_task(s, replay.rt, act(s, unit_admin), task.id, form=form)
    with write_session(world) as s, pytest.raises(InvalidInput, match="reason"):
        lifecycle.reject_task(s, replay.rt, act(s, "t01-admin"), task.id, "")
    with write_session(world) as s:
        assert (
            lifecycle.reject_task(s, replay.rt, act(s, "t01-admin"), task.id, "会议记录不全").state == "open"
        )
    assert count(world, Notification, Notification.task_id == task.id, Notification.kind == "rejected") == 1
    # T01's admin submits for... no: the issuer unit's own admin cannot submit a branch's task
    with write_session(world) as s, pytest.raises(Forbidden):
        lifecycle.submit_task(s, replay.rt, act(s, "t01-admin"), task.id, form=form)


def test_waive_extend_urge(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    with write_session(world) as s:
        a = fanout.assign_definition(s, replay.rt, act(s, "c01-admin"), "test-congress", "C01")
    t1, t2 = tasks_of(world, a.assignment_id)[:2]
    with write_session(world) as s, pytest.raises(Forbidden, match="issuer"):
        lifecycle.waive_task(s, replay.rt, act(s, "t01-admin"), t1.id, "关停")
    with write_session(world) as s:
        assert lifecycle.waive_task(s, replay.rt, act(s, "c01-admin"), t1.id, "企业关停").state == "waived"
    with write_session(world) as s, pytest.raises(Forbidden):
        lifecycle.extend_task(s, replay.rt, act(s, "g02-admin"), t2.id, date(2026, 9, 30))
    with write_session(world) as s:
        extended = lifecycle.extend_task(s, replay.rt, act(s, "t01-admin"), t2.id, date(2026, 9, 30), "换届")
        assert extended.due_at.astimezone(replay.rt.tz).date() == date(2026, 9, 30)
        assert extended.schedule_epoch == 1
    with write_session(world) as s:
        lifecycle.urge_task(s, replay.rt, act(s, "t01-admin"), t2.id, "请尽快召开")
        lifecycle.urge_task(s, replay.rt, act(s, "c01-admin"), t2.id)
    assert count(world, Notification, Notification.task_id == t2.id, Notification.kind == "urge") == 2
    with write_session(world) as s, pytest.raises(Conflict):
        lifecycle.urge_task(s, replay.rt, act(s, "c01-admin"), t1.id)


def test_targets_split_and_roll_up(world: Engine, replay, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with write_session(world) as s:
        a = fanout.assign_definition(
            s, replay.rt, act(s, "c01-admin"), "test-organise", "C01", targets={"K02": 5}
        )
    with write_session(world) as s, pytest.raises(InvalidInput, match="less than the target 5"):
        split_target(s, replay.rt, act(s, "k02-admin"), a.assignment_id, "K02", {"T02": 4})
    with write_session(world) as s:
        split_target(s, replay.rt, act(s, "k02-admin"), a.assignment_id, "K02", {"T02": 5})
    by_unit = {t.unit_id: t for t in tasks_of(world, a.assignment_id)}
    t02, k02 = by_unit[5], by_unit[3]
    assert (t02.target, k02.target) == (5, 5)
    with write_session(world) as s, pytest.raises(InvalidInput, match="progress"):
        lifecycle.submit_task(s, replay.rt, act(s, "t02-staff"), t02.id)
    with write_session(world) as s:
        assert lifecycle.submit_task(s, replay.rt, act(s, "t02-staff"), t02.id, progress=3).state == "open"
    with write_session(world) as s:
        assert lifecycle.submit_task(s, replay.rt, act(s, "t02-staff"), t02.id, progress=2).state == "done"
    # the county's own task completes when its subtree reaches its target
    by_unit = {t.unit_id: t for t in tasks_of(world, a.assignment_id)}
    assert (by_unit[5].progress, by_unit[3].state) == (5, "done")


def test_times_counts_occurrences_and_attachments(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    with write_session(world) as s:
        weekly = fanout.assign_definition(s, replay.rt, act(s, "c01-admin"), "test-weekly", "C01")
        plaque = fanout.assign_definition(s, replay.rt, act(s, "c01-admin"), "test-plaque", "C01")
    w = next(t for t in tasks_of(world, weekly.assignment_id) if t.unit_id == 6)
    with write_session(world) as s:
        assert lifecycle.submit_task(s, replay.rt, act(s, "g01-staff"), w.id).state == "open"
    with write_session(world) as s:
        assert lifecycle.submit_task(s, replay.rt, act(s, "g01-staff"), w.id).state == "done"
    p = next(t for t in tasks_of(world, plaque.assignment_id) if t.unit_id == 6)
    with write_session(world) as s, pytest.raises(InvalidInput, match="at least 1 file"):
        lifecycle.submit_task(s, replay.rt, act(s, "g01-staff"), p.id)
    with pytest.raises(InvalidInput, match="not allowed"):
        store_file(replay.rt, io.BytesIO(b"#!/bin/sh\nrm -rf /\n"), "photo.png")
    store = replay.rt.data_dir / "files"
    # A refused submission leaves the file store as it was: the staged upload is discarded.
    stray = store_file(replay.rt, io.BytesIO(PNG), "stray.png")
    w2 = next(t for t in tasks_of(world, weekly.assignment_id) if t.unit_id == 7)
    with write_session(world) as s, pytest.raises(InvalidInput, match="takes no files"):
        lifecycle.submit_task(s, replay.rt, act(s, "g02-staff"), w2.id, files=[stray])
    assert [f for f in store.rglob("*") if f.is_file()] == []
    photo = store_file(replay.rt, io.BytesIO(PNG), "../../etc/passwd.png")
    assert photo.filename == "passwd.png" and photo.content_type == "image/png"
    with write_session(world) as s:
        assert lifecycle.submit_task(s, replay.rt, act(s, "g01-staff"), p.id, files=[photo]).state == "done"
    assert [f.name for f in store.rglob("*") if f.is_file()] == [photo.sha256]


def test_lists_are_confined_to_the_subtree(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    with write_session(world) as s:
        fanout.assign_definition(s, replay.rt, act(s, "c01-admin"), "test-congress", "C01")
    with read_session(world) as s:
        k01 = list_tasks(s, replay.rt.now(), replay.rt.tz, act(s, "k01-viewer"), TaskFilter(subtree=True))
        assert {t["unit_code"] for t in k01["items"]} == {"G01", "G02"}
        with pytest.raises(NotFound):
            list_tasks(s, replay.rt.now(), replay.rt.tz, act(s, "k01-viewer"), TaskFilter(unit="G03"))
    replay.at("2026-07-01T00:00")
    with read_session(world) as s:
        late = list_tasks(s, replay.rt.now(), replay.rt.tz, OPERATOR, TaskFilter(overdue=True))
    assert late["total"] == 4


def test_withdraw_cancels_unfinished_tasks(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    with write_session(world) as s:
        a = fanout.assign_definition(s, replay.rt, act(s, "c01-admin"), "test-congress", "C01")
    with write_session(world) as s, pytest.raises(NotFound):
        fanout.withdraw_assignment(s, replay.rt, act(s, "k01-admin"), a.assignment_id)
    with write_session(world) as s:
        assert fanout.withdraw_assignment(s, replay.rt, act(s, "c01-admin"), a.assignment_id, "重复下达") == 4
    assert {t.state for t in tasks_of(world, a.assignment_id)} == {"cancelled"}
    assert {t.next_action_at for t in tasks_of(world, a.assignment_id)} == {None}


def test_assignment_lists_follow_the_tree(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    with write_session(world) as s:
        city = fanout.assign_definition(
            s, replay.rt, act(s, "c01-admin"), "test-congress", "C01"
        ).assignment_id
        k01 = fanout.assign_definition(
            s, replay.rt, act(s, "k01-admin"), "test-training", "K01"
        ).assignment_id
        k02 = fanout.assign_definition(
            s, replay.rt, act(s, "k02-admin"), "test-training", "K02"
        ).assignment_id
    with read_session(world) as s:
        seen = {a["id"] for a in fanout.list_assignments(s, act(s, "t01-viewer"))}
        assert seen == {city, k01}  # both cover T01; K02's does not
        assert {a["id"] for a in fanout.list_assignments(s, act(s, "c01-viewer"))} == {city, k01, k02}
        assert {a["id"] for a in fanout.list_assignments(s, OPERATOR)} == {city, k01, k02}


def test_the_roll_up_counts_each_child_subtree(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    from duban.engine.overview.reports import rollup, rollup_scan
    from duban.engine.overview.workbook import rollup_workbook

    with write_session(world) as s:
        congress = fanout.assign_definition(s, replay.rt, act(s, "c01-admin"), "test-congress", "C01")
        fanout.assign_definition(
            s, replay.rt, act(s, "c01-admin"), "test-organise", "C01", targets={"K02": 5}
        )
    g01 = next(t for t in tasks_of(world, congress.assignment_id) if t.unit_id == 6)
    with write_session(world) as s:
        lifecycle.waive_task(s, replay.rt, act(s, "c01-admin"), g01.id, "关停")
    replay.at("2026-09-01T12:00")
    with read_session(world) as s:
        report = rollup(s, replay.rt.now(), OPERATOR, "C01")
        only = rollup(s, replay.rt.now(), OPERATOR, "C01", definition="test-organise")
        with pytest.raises(NotFound):
            rollup(s, replay.rt.now(), act(s, "k01-admin"), "K02")
    children = {r["code"]: r for r in report["children"]}
    # K01: K01 and T01 (organise), G01 (congress, waived), G02 (congress); K02 likewise with T02, G03, G04
    assert (children["K01"]["tasks"], children["K01"]["waived"], children["K01"]["open"]) == (4, 1, 3)
    assert (children["K02"]["tasks"], children["K02"]["target"]) == (4, 5.0)
    # on 09-01 the congress (due 06-30) is late; organising (due 9 months after 03-02) is not yet
    assert children["K02"]["overdue"] == 2 and children["K01"]["overdue"] == 1
    assert children["K01"]["done_pct"] == 0.0
    assert report["total"]["tasks"] == 8 and report["own"] is None
    assert {d["definition_id"]: d["tasks"] for d in report["definitions"]} == {
        "test-congress": 4,
        "test-organise": 4,
    }
    assert only["total"]["tasks"] == 4 and [d["definition_id"] for d in only["definitions"]] == [
        "test-organise"
    ]
    assert rollup_workbook(report)[:2] == b"PK"
    with read_session(world) as s:
        assert rollup_scan(s, replay.rt.now(), OPERATOR, "C01") == report
