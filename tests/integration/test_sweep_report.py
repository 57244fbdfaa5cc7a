"""What `sweep` and `deliver` tell an operator: periods opened, tasks made, notices nobody hears, channels not configured."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, func, select, update
from test_sweep import add_account, world
from typer.testing import CliRunner

from duban.cli.main import app
from duban.engine.channels.noop import NoopTransport
from duban.engine.followup.delivery import deliver_outbox
from duban.engine.followup.sweep import sweep_due
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Account, Outbox, Unit

runner = CliRunner()


def _setup(db: Engine, replay: Any) -> dict[str, int]:
    ids, _ = world(db, replay.rt, codes=("G01", "G02", "G03", "G04", "S01"))
    with write_session(db) as s:
        s.execute(
            update(Unit.__table__)
            .where(Unit.__table__.c.id == ids["G01"])
            .values(contacts={"email": ["g01@example.org"], "webhooks": []})
        )
    add_account(db, "g02-staff", ids["G02"], "staff")
    add_account(db, "g03-viewer", ids["G03"], "viewer")
    gone = add_account(db, "s01-admin", ids["S01"], "admin")
    with write_session(db) as s:
        s.execute(update(Account.__table__).where(Account.__table__.c.id == gone).values(active=False))
    return ids


def test_sweep_names_the_units_nobody_hears(db: Engine, replay: Any) -> None:
    _setup(db, replay)
    replay.at("2027-01-29T09:00")
    result = sweep_due(db, replay.rt)
    assert result.reminders_sent == 5
    assert (result.unheard_units, result.unheard_sample) == (3, ["G03", "G04", "S01"])
    # a second sweep makes no new notices, so it names nobody
    assert sweep_due(db, replay.rt).unheard_units == 0


def test_the_sweep_command_says_so(db: Engine, db_url: str, replay: Any) -> None:
    _setup(db, replay)
    out = runner.invoke(app, ["--db", db_url, "--now", "2027-01-29T09:00+08:00", "sweep", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert (doc["unheard_units"], doc["unheard_sample"], doc["tasks_created"]) == (
        3,
        ["G03", "G04", "S01"],
        0,
    )
    add_account(db, "g04-staff", _unit_id(db, "G04"), "staff")
    text = runner.invoke(app, ["--db", db_url, "--now", "2027-02-26T09:00+08:00", "sweep"]).output
    assert "2 units have notices nobody receives" in text and "G03, S01" in text


def _unit_id(db: Engine, code: str) -> int:
    with read_session(db) as s:
        return s.execute(select(Unit.id).where(Unit.code == code)).scalar_one()


def test_email_without_a_transport_waits_instead_of_dying(db: Engine, db_url: str, replay: Any) -> None:
    _setup(db, replay)
    replay.at("2027-01-29T09:00")
    sweep_due(db, replay.rt)
    result = deliver_outbox(db, replay.rt, {})
    assert (result.inbox_items, result.dead, result.waiting_no_transport) == (1, 0, {"email": 1})
    with read_session(db) as s:
        statuses = dict(s.execute(select(Outbox.channel, Outbox.status)).all())
        attempts = s.scalar(select(func.max(Outbox.attempts)).where(Outbox.channel == "email"))
    assert statuses == {"email": "pending", "inbox": "sent"} and attempts == 0
    text = runner.invoke(app, ["--db", db_url, "--now", "2027-01-29T09:05+08:00", "deliver"]).output
    assert "1 email notices wait: no email transport is configured" in text
    doc = json.loads(
        runner.invoke(app, ["--db", db_url, "--now", "2027-01-29T09:05+08:00", "deliver", "--json"]).output
    )
    assert doc["waiting_no_transport"] == {"email": 1} and doc["dead"] == 0
    # once a transport is there, the notice goes out
    mail = NoopTransport()
    sent = deliver_outbox(db, replay.rt, {"email": mail})
    assert (sent.notices_sent, sent.waiting_no_transport, mail.notices) == (1, {}, 1)


def test_a_far_now_is_refused_with_a_line(db: Engine, db_url: str) -> None:
    out = runner.invoke(app, ["--db", db_url, "--now", "9999-12-31T23:00+08:00", "sweep"])
    assert (
        out.exit_code == 2 and "outside the years 2000–2100" in out.output and "Traceback" not in out.output
    )
