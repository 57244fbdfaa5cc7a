"""Work waiting for approval: the branch is left alone, the approver has a deadline, everyone is told."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine, select
from test_workflow import act, tasks_of, world  # noqa: F401  (the fixture)

from duban.engine.access.actors import OPERATOR
from duban.engine.followup.sweep import sweep_due
from duban.engine.overview.tasks import show_task, supervision_list
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Notification, Outbox, Unit
from duban.engine.work import fanout, lifecycle

FORM = {"held_on": "2026-03-01", "attendance": 80}


def _notices(db: Engine, task_id: int) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    with read_session(db) as s:
        return list(
            s.execute(
                select(Notification.kind, Unit.code, Notification.payload)
                .join(Unit, Unit.id == Notification.unit_id)
                .where(Notification.task_id == task_id)
                .order_by(Notification.id)
            ).all()
        )


def test_an_approver_who_sits_on_work_is_escalated_not_the_branch(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    rt = replay.rt
    with write_session(world) as s:
        a = fanout.assign_definition(s, rt, act(s, "c01-admin"), "test-congress", "C01")
    g01, g02 = (t.id for t in tasks_of(world, a.assignment_id)[:2])
    replay.at("2026-06-19T10:00")
    with write_session(world) as s:
        assert lifecycle.submit_task(s, rt, act(s, "g01-staff"), g01, form=FORM).state == "submitted"
    # the approver (T01) is told, in the same transaction, through the outbox
    assert [(k, u) for k, u, _ in _notices(world, g01)] == [("submitted", "T01")]
    with read_session(world) as s:
        channels = sorted(
            s.scalars(select(Outbox.channel).where(Outbox.task_id == g01, Outbox.kind == "submitted"))
        )
    assert channels == ["inbox", "inbox"]  # T01's admin and staff
    # the week's reminder goes to the branch still working, not to the one waiting
    replay.at("2026-06-23T10:00")
    assert sweep_due(world, rt).reminders_sent == 3  # G02, G03, G04
    assert [k for k, _, _ in _notices(world, g01)] == ["submitted"]
    # the approver's deadline: 5 working days after the submission (the default approval_due)
    last_day, _ = rt.calendar.add_workdays(date(2026, 6, 19), 5)
    replay.at(f"{last_day.isoformat()}T22:00")
    assert sweep_due(world, rt).approvals_overdue == 0
    replay.at(f"{(last_day + timedelta(days=1)).isoformat()}T10:00")
    assert sweep_due(world, rt).approvals_overdue == 1
    assert [(k, u) for k, u, _ in _notices(world, g01)] == [("submitted", "T01"), ("approval_overdue", "K01")]
    replay.at("2026-07-02T10:00")
    result = sweep_due(world, rt)
    assert (result.escalations, result.approvals_overdue) == (3, 0)  # G02's, G03's, G04's, not G01's
    with read_session(world) as s:
        assert show_task(s, rt.tz, OPERATOR, g01)["escalation_level"] == 0
        waiting = {t["id"]: t["waiting_for"] for t in supervision_list(s, rt.tz, OPERATOR, "K01")}
        late = {t["id"]: t["waiting_for"] for t in supervision_list(s, rt.tz, OPERATOR, "T01")}
    assert waiting == {g01: {"role": "approver", "unit_code": "T01", "unit_name": "莞城社区工会联合会"}}
    assert late == {g02: {"role": "branch", "unit_code": "G02", "unit_name": "莞城第一小学工会"}}
    # sent back after the due date passed while it waited: the wait is added to the due date
    replay.at("2026-07-10T10:00")
    with write_session(world) as s:
        assert lifecycle.reject_task(s, rt, act(s, "t01-admin"), g01, "签到表缺页").state == "open"
    with read_session(world) as s:
        doc = show_task(s, rt.tz, OPERATOR, g01)
        assert supervision_list(s, rt.tz, OPERATOR, "K01") == []
    assert doc["due_at"][:10] == "2026-07-21"  # 06-30 + the 21 days from 06-19 to 07-10
    assert doc["audit"][-1]["payload"]["grace"] == {
        "from": "2026-06-30",
        "to": "2026-07-21",
        "days_waited": 21,
    }
    assert _notices(world, g01)[-1] == ("rejected", "G01", {"reason": "签到表缺页"})
    replay.at("2026-07-12T10:00")
    assert sweep_due(world, rt).escalations == 0
    with write_session(world) as s:
        lifecycle.submit_task(s, rt, act(s, "g01-staff"), g01, form=FORM)
    with write_session(world) as s:
        assert lifecycle.approve_task(s, rt, act(s, "t01-admin"), g01).state == "submitted"
    with write_session(world) as s:
        assert lifecycle.approve_task(s, rt, act(s, "c01-admin"), g01, "很好").state == "done"
    assert [(k, u) for k, u, _ in _notices(world, g01)][-4:] == [
        ("rejected", "G01"),
        ("submitted", "T01"),
        ("submitted", "C01"),
        ("approved", "G01"),
    ]


def test_a_rejection_before_the_due_date_resumes_the_reminders(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    rt = replay.rt
    with write_session(world) as s:
        a = fanout.assign_definition(s, rt, act(s, "c01-admin"), "test-congress", "C01")
    g01 = tasks_of(world, a.assignment_id)[0].id
    replay.at("2026-06-01T10:00")
    with write_session(world) as s:
        lifecycle.submit_task(s, rt, act(s, "g01-staff"), g01, form=FORM)
    replay.at("2026-06-24T10:00")
    sweep_due(world, rt)  # the 06-23 reminder passes while the work waits
    with write_session(world) as s:
        lifecycle.reject_task(s, rt, act(s, "t01-admin"), g01, "日期有误")
    with read_session(world) as s:
        doc = show_task(s, rt.tz, OPERATOR, g01)
    assert doc["due_at"][:10] == "2026-06-30"  # not late: no grace
    assert doc["next_action_at"][:10] == "2026-06-29"  # the P1D reminder, the P7D one not sent late
    replay.at("2026-06-29T10:00")
    assert sweep_due(world, rt).reminders_sent == 4  # G01 among them again
    assert [k for k, _, _ in _notices(world, g01)] == [
        "submitted",
        "approval_overdue",
        "rejected",
        "reminder",
    ]


def test_workflow_notices_read_as_words(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from duban.engine.channels.model import Digest
    from duban.engine.channels.render import render_digest
    from duban.engine.followup.delivery import _notices as stored_notices

    rt = replay.rt
    with write_session(world) as s:
        a = fanout.assign_definition(s, rt, act(s, "c01-admin"), "test-congress", "C01")
    g01 = tasks_of(world, a.assignment_id)[0].id
    with write_session(world) as s:
        lifecycle.submit_task(s, rt, act(s, "g01-staff"), g01, form=FORM)
    with write_session(world) as s:
        lifecycle.reject_task(s, rt, act(s, "t01-admin"), g01, "签到表缺页")
    with write_session(world) as s:
        lifecycle.urge_task(s, rt, act(s, "c01-admin"), g01, "请本周内补交")
    with read_session(world) as s:
        ids = list(s.scalars(select(Outbox.id).where(Outbox.task_id == g01).order_by(Outbox.id)))
        notices = stored_notices(s, rt, ids)
    by_kind = {n.kind: n for n in notices.values()}
    assert set(by_kind) == {"submitted", "rejected", "urge"}
    text = render_digest(Digest("inbox", "x", None, list(by_kind.values()), "k"), rt.tz).text_plain
    assert "待审核" in text and "已退回" in text and "退回原因：签到表缺页" in text
    assert "催办说明：请本周内补交" in text
