"""Outbox delivery against real servers: SMTP (aiosmtpd) and an HTTP robot that fails, then recovers."""

from __future__ import annotations

import random
import ssl
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
import trustme
from channel_servers import LOOPBACK, RobotServer, robot_server, smtp_server
from sqlalchemy import Engine, func, select
from test_outbox import set_contacts
from test_sweep import TZ, add_account, world

from duban.engine.channels import (
    DingTalkTransport,
    GenericWebhookTransport,
    SmtpTransport,
    WeComTransport,
    dingtalk_timestamp,
)
from duban.engine.followup.delivery import deliver_outbox, retry_dead
from duban.engine.followup.sweep import sweep_due
from duban.engine.store.db import read_session
from duban.engine.store.models import Audit, Outbox

USER, PASSWORD = "duban-mailer", "s3cret-密码"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def robots() -> Iterator[RobotServer]:
    with robot_server() as server:
        yield server


@pytest.fixture
def robot(robots: RobotServer) -> RobotServer:
    robots.state.reset()
    return robots


def statuses(db: Engine) -> dict[str, int]:
    with read_session(db) as s:
        return dict(s.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())


def late(db: Engine, replay: Any, subjects: int = 1, codes: tuple[str, ...] = ("G01",)) -> dict[str, int]:
    """Tasks whose first escalation (to T01) fires at the returned clock."""
    ids, _ = world(db, replay.rt, codes=codes, subjects=subjects)
    return ids


def test_email_through_a_real_smtp_server(db: Engine, replay: Any, ca: trustme.CA) -> None:
    ids = late(db, replay, subjects=3)
    set_contacts(db, ids["T01"], {"email": ["t01@example.org"], "webhooks": []})
    add_account(db, "t01-staff", ids["T01"], "staff", email="staff@example.org")
    replay.at("2027-03-03T10:00")
    assert sweep_due(db, replay.rt).escalations == 3
    tls = ssl.create_default_context()
    ca.configure_trust(tls)
    with smtp_server(ca, USER, PASSWORD) as server:
        smtp = SmtpTransport(
            LOOPBACK,
            server.port,
            USER,
            PASSWORD,
            True,
            "duban@example.org",
            5.0,
            tz=TZ,
            clock=replay.clock,
            ssl_context=tls,
        )
        result = deliver_outbox(db, replay.rt, {"email": smtp})
        assert (result.digests_sent, result.notices_sent, result.inbox_items) == (2, 6, 3)
        assert sorted(m.rcpt_tos[0] for m in server.inbox) == ["staff@example.org", "t01@example.org"]
        mail = message_from_bytes(server.inbox[0].content, policy=policy.default)
        assert "新任工会干部上岗培训" in mail.get_content() and server.inbox[0].over_tls
    assert statuses(db) == {"sent": 9}


def test_webhook_fails_then_recovers_with_backoff(db: Engine, replay: Any, robot: RobotServer) -> None:
    ids = late(db, replay)
    set_contacts(
        db,
        ids["T01"],
        {
            "email": [],
            "webhooks": [
                {"kind": "generic", "url": robot.hook_url, "secret": None},
                {"kind": "wecom", "url": robot.wecom_url, "secret": None},
                {"kind": "dingtalk", "url": robot.dingtalk_url, "secret": robot.state.dingtalk_secret},
            ],
        },
    )
    now = replay.at("2027-03-03T10:00")
    robot.state.now_ms = dingtalk_timestamp(now)
    sweep_due(db, replay.rt)
    transports = {
        "webhook": GenericWebhookTransport(5.0, tz=TZ),
        "wecom": WeComTransport(5.0, tz=TZ),
        "dingtalk": DingTalkTransport(replay.clock, 5.0, tz=TZ),
    }
    robot.state.fail_next(3, "http500")
    rng = random.Random(7)
    first = deliver_outbox(db, replay.rt, transports, max_attempts=5, backoff=(10, 100), rng=rng)
    assert (first.digests_sent, first.retries_scheduled) == (0, 3)
    with read_session(db) as s:
        waits = [r - now for r in s.execute(select(Outbox.next_attempt_at)).scalars()]
    assert all(timedelta(seconds=1) <= w <= timedelta(seconds=10) for w in waits)
    # Retries wait: a run before the backoff ends sends nothing.
    assert (
        deliver_outbox(db, replay.rt, transports, max_attempts=5, backoff=(10, 100), rng=rng).digests_sent
        == 0
    )
    replay.clock.advance(timedelta(seconds=11))
    again = deliver_outbox(db, replay.rt, transports, max_attempts=5, backoff=(10, 100), rng=rng)
    assert again.digests_sent == 3
    assert statuses(db) == {"sent": 3}
    hooks = [h for h in robot.state.hits if h.path == "/hook"]
    # The retry carried the same idempotency key as the failed try.
    assert len(hooks) == 2 and hooks[0].headers["Idempotency-Key"] == hooks[1].headers["Idempotency-Key"]


def test_dead_letter_after_max_attempts_then_operator_retry(
    db: Engine, replay: Any, robot: RobotServer
) -> None:
    ids = late(db, replay)
    set_contacts(db, ids["T01"], {"email": [], "webhooks": [{"kind": "generic", "url": robot.hook_url}]})
    replay.at("2027-03-03T10:00")
    sweep_due(db, replay.rt)
    hook = {"webhook": GenericWebhookTransport(5.0, tz=TZ)}
    robot.state.fail_next(100, "http500")
    for _ in range(3):
        deliver_outbox(db, replay.rt, hook, max_attempts=3, backoff=(1, 2), rng=random.Random(1))
        replay.clock.advance(timedelta(seconds=5))
    assert statuses(db) == {"dead": 1}
    with read_session(db) as s:
        row = s.execute(select(Outbox)).scalar_one()
        assert row.attempts == 3 and "HTTP 500" in (row.last_error or "")
        assert s.scalar(select(func.count()).select_from(Audit).where(Audit.action == "outbox.dead")) == 1
    assert deliver_outbox(db, replay.rt, hook, max_attempts=3).digests_sent == 0  # dead stays dead
    robot.state.reset()
    assert retry_dead(db, replay.rt, "all") == 1
    assert deliver_outbox(db, replay.rt, hook, max_attempts=3).digests_sent == 1
    assert statuses(db) == {"sent": 1}


def test_a_400_is_not_retried(db: Engine, replay: Any, robot: RobotServer) -> None:
    ids = late(db, replay)
    set_contacts(db, ids["T01"], {"email": [], "webhooks": [{"kind": "generic", "url": robot.hook_url}]})
    replay.at("2027-03-03T10:00")
    sweep_due(db, replay.rt)
    robot.state.fail_next(1, "http400")
    result = deliver_outbox(db, replay.rt, {"webhook": GenericWebhookTransport(5.0, tz=TZ)})
    assert result.dead == 1 and statuses(db) == {"dead": 1}
    with read_session(db) as s:
        dead_id = s.execute(select(Outbox.id)).scalar_one()
    assert retry_dead(db, replay.rt, [dead_id]) == 1


def test_three_hundred_notices_to_one_webhook_make_one_message(
    db: Engine, replay: Any, robot: RobotServer
) -> None:
    ids = late(db, replay, subjects=150, codes=("G01", "G02"))
    set_contacts(db, ids["T01"], {"email": [], "webhooks": [{"kind": "generic", "url": robot.hook_url}]})
    replay.at("2027-03-03T10:00")
    assert sweep_due(db, replay.rt, batch_size=100).escalations == 300
    result = deliver_outbox(db, replay.rt, {"webhook": GenericWebhookTransport(5.0, tz=TZ)}, batch_size=50)
    assert (result.digests_sent, result.notices_sent) == (1, 300)
    assert len(robot.state.hits) == 1 and robot.state.hits[0].body["count"] == 300


class _DiesAfterSending:
    """Sends for real, then the process 'dies' before the outcome is written."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def send(self, digest: Any) -> None:
        self.inner.send(digest)
        raise KeyboardInterrupt("killed between sending and marking sent")


def test_a_crash_between_send_and_mark_resends_with_the_same_key(
    db: Engine, replay: Any, robot: RobotServer
) -> None:
    ids = late(db, replay, subjects=2)
    set_contacts(db, ids["T01"], {"email": [], "webhooks": [{"kind": "generic", "url": robot.hook_url}]})
    replay.at("2027-03-03T10:00")
    sweep_due(db, replay.rt)
    hook = GenericWebhookTransport(5.0, tz=TZ)
    with pytest.raises(KeyboardInterrupt):
        deliver_outbox(db, replay.rt, {"webhook": _DiesAfterSending(hook)}, lease_seconds=60)
    assert statuses(db) == {"sending": 2}
    # Another delivery during the lease leaves it alone; after the lease it resends the same message.
    assert deliver_outbox(db, replay.rt, {"webhook": hook}).digests_sent == 0
    replay.clock.advance(timedelta(seconds=61))
    assert deliver_outbox(db, replay.rt, {"webhook": hook}).digests_sent == 1
    keys = [h.headers["Idempotency-Key"] for h in robot.state.hits]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert statuses(db) == {"sent": 2}
