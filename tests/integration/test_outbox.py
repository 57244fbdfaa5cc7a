"""Notices and their outbox rows: recipients, dedupe, digest keys, the inbox and the operator's list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select, update
from test_sweep import add_account, world

from duban.engine.channels import NoopTransport
from duban.engine.followup.delivery import deliver_outbox
from duban.engine.followup.notices import dedupe_key, notify
from duban.engine.followup.outbox import list_outbox
from duban.engine.followup.sweep import sweep_due
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import InboxItem, Notification, Outbox, Unit


def set_contacts(db: Engine, unit_id: int, contacts: dict[str, Any]) -> None:
    with write_session(db) as s:
        s.execute(update(Unit.__table__).where(Unit.__table__.c.id == unit_id).values(contacts=contacts))


def test_dedupe_key_includes_the_epoch_only_when_rescheduled() -> None:
    assert dedupe_key(7, "reminder", 2, 0) == "t7:reminder:2"
    assert dedupe_key(7, "reminder", 2, 3) == "t7:reminder:2:e3"


def test_notify_fans_out_to_contacts_and_accounts_once(db: Engine, replay: Any) -> None:
    ids, (task, _) = world(db, replay.rt)
    g01 = ids["G01"]
    set_contacts(
        db,
        g01,
        {
            "email": ["office@g01.example", "chair@g01.example"],
            "webhooks": [{"kind": "wecom", "url": "http://127.0.0.1:9/w?key=k", "secret": None}],
        },
    )
    staff = add_account(db, "g01-staff", g01, "staff", email="chair@g01.example")  # same address as a contact
    add_account(db, "g01-admin", g01, "admin")
    add_account(db, "g01-viewer", g01, "viewer", email="viewer@g01.example")
    row = {
        "task_id": task,
        "kind": "urge",
        "step": 1,
        "unit_id": g01,
        "payload": {"reason": "请尽快"},
        "dedupe_key": dedupe_key(task, "urge", 1, 0),
    }
    with write_session(db) as s:
        assert notify(s, replay.rt, [row]) == 1
    with write_session(db) as s:
        assert notify(s, replay.rt, [row]) == 0  # a duplicate is skipped silently
    with read_session(db) as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 1
        channels = sorted(s.execute(select(Outbox.channel, Outbox.address)).all())
        digest_keys = set(s.execute(select(Outbox.digest_key)).scalars())
    # Two unit emails (the staff's equals one), the robot, two inboxes; never the viewer.
    assert channels == sorted(
        [
            ("email", "chair@g01.example"),
            ("email", "office@g01.example"),
            ("wecom", "http://127.0.0.1:9/w?key=k"),
            ("inbox", f"account:{staff}"),
            ("inbox", f"account:{staff + 1}"),
        ]
    )
    assert len(digest_keys) == 5
    with read_session(db) as s:
        listed = list_outbox(s)
    assert {r["channel"] for r in listed} == {"email", "wecom", "inbox"}
    wecom = next(r for r in listed if r["channel"] == "wecom")
    assert wecom["address"] == "http://127.0.0.1:9/w"  # the key stays out of listings
    assert set(wecom) >= {
        "id",
        "dedupe_key",
        "kind",
        "task_id",
        "unit_code",
        "channel",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
    }
    assert wecom["unit_code"] == "G01" and wecom["status"] == "pending" and wecom["kind"] == "urge"


def test_one_sweep_gives_each_recipient_one_digest(db: Engine, replay: Any) -> None:
    ids, _ = world(db, replay.rt, codes=("G01", "G02"), subjects=50)
    set_contacts(db, ids["T01"], {"email": ["t01@example.org"], "webhooks": []})
    add_account(db, "t01-admin", ids["T01"], "admin")
    replay.at("2027-03-03T10:00")  # the first escalation: 100 tasks to their parent T01
    assert sweep_due(db, replay.rt, batch_size=30).escalations == 100
    with read_session(db) as s:
        groups = s.execute(
            select(Outbox.channel, func.count()).group_by(Outbox.digest_key, Outbox.channel)
        ).all()
    assert sorted(groups) == [("email", 100), ("inbox", 100)]
    noop = NoopTransport()
    result = deliver_outbox(db, replay.rt, {"email": noop})
    assert (noop.sent, noop.notices) == (1, 100)
    assert result.inbox_items == 100
    with read_session(db) as s:
        assert s.scalar(select(func.count()).select_from(InboxItem)) == 100
        assert set(s.execute(select(Outbox.status)).scalars()) == {"sent"}
    # Nothing left: a second delivery sends nothing.
    assert deliver_outbox(db, replay.rt, {"email": noop}).digests_sent == 0
