"""The notification channels against real parts: an SMTP server and an HTTP robot server on loopback."""

from __future__ import annotations

import json
import random
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
import trustme

# tests/ is not a package: pytest puts this directory on sys.path, so the helper imports by name.
from channel_servers import LOOPBACK, RobotServer, free_port, robot_server, smtp_server

from duban.engine.channels import (
    ChannelSettings,
    DeliveryFailed,
    Digest,
    DingTalkTransport,
    GenericWebhookTransport,
    NoopTransport,
    Notice,
    SmtpTransport,
    WeComTransport,
    backoff_delay,
    dingtalk_timestamp,
    render_digest,
    transport_for,
    truncate_utf8,
)
from duban.engine.channels.render import render_within
from duban.engine.channels.webhook import WEBHOOK_MAX_BYTES, webhook_payload
from duban.engine.time.clock import FixedClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 20, 9, 0, tzinfo=SHANGHAI)
SMTP_USER, SMTP_PASSWORD = "duban-mailer", "correct horse 电池"


def notice(task_id: int, kind: str = "reminder", **overrides: object) -> Notice:
    fields: dict[str, object] = {
        "task_id": task_id,
        "kind": kind,
        "step": 1,
        "title": "新任工会干部上岗培训",
        "title_en": "Onboarding training for newly appointed union cadres",
        "unit_code": f"U{task_id:05d}",
        "unit_name": f"第{task_id}基层工会",
        # The end of 30 June, stored as the next local midnight.
        "due_at": datetime(2026, 7, 1, 0, 0, tzinfo=SHANGHAI),
        "escalation_level": 1 if kind == "escalation" else 0,
        "period": "2026",
        "reason": None,
    }
    fields.update(overrides)
    return Notice(**fields)  # type: ignore[arg-type]


def digest(
    channel: str, address: str, notices: list[Notice], key: str = "digest-1", secret: str | None = None
) -> Digest:
    return Digest(channel=channel, address=address, secret=secret, notices=notices, idempotency_key=key)


def mixed(n: int) -> list[Notice]:
    """n notices: every third an escalation, the rest reminders."""
    return [notice(i, "escalation" if i % 3 == 0 else "reminder") for i in range(n)]


# --- rendering ----------------------------------------------------------------


def test_render_groups_by_kind_most_urgent_first_with_counts() -> None:
    notices = [
        notice(1, "reminder"),
        notice(2, "escalation", escalation_level=2),
        notice(3, "rejected", reason="照片不清晰\n请重新上传"),
    ]
    message = render_digest(digest("email", "a@example.org", notices), SHANGHAI)

    assert message.subject == "督办提醒：3 项任务（1 项已逾期）"
    plain = message.text_plain
    assert (
        plain.index("已逾期·督办（1 项）") < plain.index("即将到期（1 项）") < plain.index("已退回（1 项）")
    )
    assert "【即将到期】新任工会干部上岗培训（2026） — 第1基层工会，截止 2026-06-30，任务 #1" in plain
    assert (
        "【已逾期·督办】新任工会干部上岗培训（2026） — 第2基层工会，截止 2026-06-30，第 2 级督办，任务 #2"
        in plain
    )
    # A newline in user data must not break the layout.
    assert "退回原因：照片不清晰 请重新上传" in plain
    assert "- 【已退回】" in message.text_markdown
    assert message.text_markdown.startswith("### 督办提醒：3 项任务")


def test_render_shows_times_in_the_deployment_zone() -> None:
    exact = notice(1, due_at=datetime(2026, 6, 30, 9, 0, tzinfo=UTC))
    end_of_day = notice(2, due_at=datetime(2026, 6, 30, 15, 59, 59, tzinfo=UTC))
    midnight_utc = notice(3, due_at=datetime(2026, 6, 30, 16, 0, tzinfo=UTC))
    text = render_digest(
        digest("email", "a@example.org", [exact, end_of_day, midnight_utc]), SHANGHAI
    ).text_plain
    assert "截止 2026-06-30 17:00，任务 #1" in text
    assert "截止 2026-06-30，任务 #2" in text
    # 16:00 UTC is local midnight: the deadline is the end of 30 June, not "1 July".
    assert "截止 2026-06-30，任务 #3" in text
    assert "2026-07-01" not in text


def test_three_thousand_notices_make_one_readable_message() -> None:
    notices = mixed(3000)
    message = render_digest(digest("email", "county@example.org", notices), SHANGHAI)

    assert message.subject == "督办提醒：3000 项任务（1000 项已逾期）"
    assert "共 3000 项：已逾期·督办 1000 项，即将到期 2000 项" in message.text_plain
    listed = [line for line in message.text_plain.splitlines() if line.startswith("  【")]
    assert len(listed) == 50
    # The budget goes to the most urgent group first.
    assert all("【已逾期·督办】" in line for line in listed)
    assert "……另有 950 项" in message.text_plain
    assert "……另有 2000 项" in message.text_plain
    assert "（仅列出前 50 项，另有 2950 项未列出" in message.text_plain
    assert len(message.text_plain.encode()) < 20_000


def test_truncate_utf8_never_splits_a_character() -> None:
    text = "督办" * 10  # 3 bytes a character
    for limit in range(40):
        cut = truncate_utf8(text, limit)
        assert len(cut.encode("utf-8")) <= limit
        cut.encode("utf-8").decode("utf-8")  # still valid UTF-8
        assert cut == text or cut.endswith("…") or cut == ""
    assert truncate_utf8(text, 60) == text
    # 59 bytes: 3 for the marker leaves 56, i.e. 18 whole characters and 2 bytes that must not be used.
    assert truncate_utf8(text, 59) == "督办" * 9 + "…"


# --- backoff --------------------------------------------------------------------


def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        ceiling = min(300.0, 2.0 * 2 ** (attempt - 1))
        draws = [backoff_delay(attempt, 2.0, 300.0, rng) for _ in range(400)]
        assert all(0.0 <= d <= ceiling for d in draws)
        # Full jitter: the draws spread over the whole range, not just near the ceiling.
        assert min(draws) < ceiling * 0.1 and max(draws) > ceiling * 0.9
    assert backoff_delay(10_000, 2.0, 300.0, rng) <= 300.0  # no overflow
    assert backoff_delay(3, 1.0, 60.0, random.Random(1)) == backoff_delay(3, 1.0, 60.0, random.Random(1))
    with pytest.raises(ValueError):
        backoff_delay(0, 1.0, 60.0, rng)


# --- SMTP -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def smtp(
    port: int, tls: ssl.SSLContext | None, password: str = SMTP_PASSWORD, starttls: bool = True
) -> SmtpTransport:
    return SmtpTransport(
        LOOPBACK,
        port,
        SMTP_USER,
        password,
        starttls,
        "督办系统 <duban@union.example.org>",
        5.0,
        tz=SHANGHAI,
        clock=FixedClock(NOW),
        ssl_context=tls,
    )


def parse(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_smtp_delivers_over_starttls_with_auth(ca: trustme.CA, client_tls: ssl.SSLContext) -> None:
    notices = [notice(1, "escalation", escalation_level=1), notice(2)]
    with smtp_server(ca, SMTP_USER, SMTP_PASSWORD) as server:
        transport = smtp(server.port, client_tls)
        transport.send(digest("email", "county@union.example.org", notices, key="k-1"))
        transport.send(digest("email", "county@union.example.org", notices, key="k-1"))
        transport.send(digest("email", "county@union.example.org", notices, key="k-2"))

    assert len(server.inbox) == 3
    first, again, other = server.inbox
    assert first.authenticated and first.over_tls
    assert first.mail_from == "duban@union.example.org"
    assert first.rcpt_tos == ["county@union.example.org"]
    mail = parse(first.content)
    assert mail["Subject"] == "督办提醒：2 项任务（1 项已逾期）"
    assert mail["From"].addresses[0].display_name == "督办系统"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Date"] is not None and mail["Date"].datetime == NOW
    body = mail.get_content()
    assert "【已逾期·督办】新任工会干部上岗培训（2026） — 第1基层工会，截止 2026-06-30" in body
    assert "【即将到期】" in body
    # Same key, same Message-ID: a resend after a crash is recognisably the same message.
    assert mail["Message-ID"] == parse(again.content)["Message-ID"]
    assert mail["Message-ID"] != parse(other.content)["Message-ID"]
    assert mail["Message-ID"].endswith("@union.example.org>")


def test_smtp_implicit_tls(ca: trustme.CA, client_tls: ssl.SSLContext) -> None:
    with smtp_server(ca, SMTP_USER, SMTP_PASSWORD, offer_starttls=False, implicit_tls=True) as server:
        transport = SmtpTransport(
            LOOPBACK,
            server.port,
            SMTP_USER,
            SMTP_PASSWORD,
            False,
            "duban@union.example.org",
            5.0,
            ssl_context=client_tls,
            implicit_tls=True,
        )
        transport.send(digest("email", "a@example.org", [notice(1)]))
    (mail,) = server.inbox
    assert mail.over_tls and mail.authenticated
    assert parse(mail.content)["Subject"] == "督办提醒：1 项任务"


def test_smtp_wrong_password_is_not_retryable(ca: trustme.CA, client_tls: ssl.SSLContext) -> None:
    with smtp_server(ca, SMTP_USER, SMTP_PASSWORD) as server, pytest.raises(DeliveryFailed) as caught:
        smtp(server.port, client_tls, password="wrong").send(digest("email", "a@example.org", [notice(1)]))
    assert caught.value.retryable is False
    assert "535" in caught.value.message
    assert server.inbox == []


def test_smtp_never_downgrades_when_starttls_is_missing(ca: trustme.CA, client_tls: ssl.SSLContext) -> None:
    plain_server = smtp_server(ca, SMTP_USER, SMTP_PASSWORD, offer_starttls=False)
    with plain_server as server, pytest.raises(DeliveryFailed) as caught:
        smtp(server.port, client_tls).send(digest("email", "a@example.org", [notice(1)]))
    assert caught.value.retryable is False
    assert server.inbox == []


def test_smtp_untrusted_certificate_is_not_retryable(ca: trustme.CA) -> None:
    stranger = ssl.create_default_context()
    trustme.CA().configure_trust(stranger)  # trusts some other CA, not the server's
    with smtp_server(ca, SMTP_USER, SMTP_PASSWORD) as server, pytest.raises(DeliveryFailed) as caught:
        smtp(server.port, stranger).send(digest("email", "a@example.org", [notice(1)]))
    assert caught.value.retryable is False
    assert "certificate" in caught.value.message
    assert server.inbox == []


def test_smtp_unreachable_server_is_retryable(client_tls: ssl.SSLContext) -> None:
    with pytest.raises(DeliveryFailed) as caught:
        smtp(free_port(), client_tls).send(digest("email", "a@example.org", [notice(1)]))
    assert caught.value.retryable is True


def test_smtp_refuses_header_injection_in_the_address(client_tls: ssl.SSLContext) -> None:
    with pytest.raises(DeliveryFailed) as caught:
        smtp(free_port(), client_tls).send(
            digest("email", "a@example.org\r\nBcc: x@evil.example", [notice(1)])
        )
    assert caught.value.retryable is False


# --- HTTP robots --------------------------------------------------------------------


@pytest.fixture(scope="module")
def robots_module() -> Iterator[RobotServer]:
    with robot_server() as server:
        yield server


@pytest.fixture
def robots(robots_module: RobotServer) -> RobotServer:
    robots_module.state.reset()
    robots_module.state.now_ms = dingtalk_timestamp(NOW)
    return robots_module


def test_wecom_posts_markdown_in_the_robot_format(robots: RobotServer) -> None:
    with WeComTransport(5.0, tz=SHANGHAI) as transport:
        transport.send(digest("wecom", robots.wecom_url, [notice(1, "escalation"), notice(2)]))
    (hit,) = robots.state.hits
    assert hit.answer == {"errcode": 0, "errmsg": "ok"}
    assert hit.body["msgtype"] == "markdown"
    content = hit.body["markdown"]["content"]
    assert content.startswith("### 督办提醒：2 项任务（1 项已逾期）")
    assert "- 【即将到期】新任工会干部上岗培训（2026） — 第2基层工会，截止 2026-06-30" in content


def test_wecom_fits_three_thousand_notices_in_4096_bytes(robots: RobotServer) -> None:
    with WeComTransport(5.0, tz=SHANGHAI) as transport:
        transport.send(digest("wecom", robots.wecom_url, mixed(3000)))
    (hit,) = robots.state.hits
    assert hit.answer["errcode"] == 0
    content: str = hit.body["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096
    assert "共 3000 项：已逾期·督办 1000 项，即将到期 2000 项" in content
    listed = content.count("\n- 【")
    assert 5 < listed < 50
    # Fewer lines are listed, and the "另有" count says so truthfully.
    assert f"另有 {3000 - listed} 项未列出" in content


def test_wecom_cuts_on_a_character_boundary_when_even_the_counts_are_too_long(robots: RobotServer) -> None:
    # 3,000 distinct unknown kinds: 3,000 group headers, far past 4,096 bytes with no line listed.
    notices = [notice(i, kind=f"自定义类型{i}") for i in range(3000)]
    with WeComTransport(5.0, tz=SHANGHAI) as transport:
        transport.send(digest("wecom", robots.wecom_url, notices))
    (hit,) = robots.state.hits
    assert hit.answer["errcode"] == 0  # the server refuses anything over 4096 bytes
    content: str = hit.body["markdown"]["content"]
    assert 4000 < len(content.encode("utf-8")) <= 4096
    assert content.endswith("……（内容过长，已截断）")


def test_wecom_rate_limit_is_retryable_then_succeeds(robots: RobotServer) -> None:
    robots.state.fail_next(2, "errcode")
    outcomes: list[bool | None] = []
    with WeComTransport(5.0, tz=SHANGHAI) as transport:
        for _ in range(3):
            try:
                transport.send(digest("wecom", robots.wecom_url, [notice(1)]))
                outcomes.append(None)
            except DeliveryFailed as failure:
                assert "45009" in failure.message
                outcomes.append(failure.retryable)
    assert outcomes == [True, True, None]
    assert [h.answer["errcode"] for h in robots.state.hits] == [45009, 45009, 0]


def test_wecom_bad_key_is_not_retryable_and_the_key_is_not_logged(robots: RobotServer) -> None:
    url = robots.wecom_url.replace(robots.state.wecom_key, "leaked-secret-key")
    with WeComTransport(5.0, tz=SHANGHAI) as transport, pytest.raises(DeliveryFailed) as caught:
        transport.send(digest("wecom", url, [notice(1)]))
    assert caught.value.retryable is False
    assert "93000" in caught.value.message
    assert "leaked-secret-key" not in caught.value.message


def test_robot_answer_that_is_not_json_is_retryable(robots: RobotServer) -> None:
    robots.state.fail_next(1, "not_json")
    with WeComTransport(5.0, tz=SHANGHAI) as transport, pytest.raises(DeliveryFailed) as caught:
        transport.send(digest("wecom", robots.wecom_url, [notice(1)]))
    assert caught.value.retryable is True


def test_dingtalk_signs_the_url_and_posts_markdown(robots: RobotServer) -> None:
    clock = FixedClock(NOW)
    with DingTalkTransport(clock, 5.0, tz=SHANGHAI) as transport:
        transport.send(
            digest(
                "dingtalk",
                robots.dingtalk_url,
                [notice(1, "urge", reason="请本周内完成")],
                secret=robots.state.dingtalk_secret,
            )
        )
    (hit,) = robots.state.hits
    assert hit.answer == {"errcode": 0, "errmsg": "ok"}  # the server recomputed and accepted the sign
    assert hit.query["timestamp"] == str(int(NOW.timestamp() * 1000))
    assert hit.query["access_token"] == robots.state.dingtalk_token
    assert hit.body["msgtype"] == "markdown"
    assert hit.body["markdown"]["title"] == "督办提醒：1 项任务"
    assert (
        "【催办】新任工会干部上岗培训（2026） — 第1基层工会，截止 2026-06-30，催办说明：请本周内完成"
        in hit.body["markdown"]["text"]
    )


def test_dingtalk_sign_is_fresh_for_each_attempt(robots: RobotServer) -> None:
    clock = FixedClock(NOW)
    robots.state.fail_next(1, "errcode")
    with DingTalkTransport(clock, 5.0, tz=SHANGHAI) as transport:
        with pytest.raises(DeliveryFailed):
            transport.send(
                digest("dingtalk", robots.dingtalk_url, [notice(1)], secret=robots.state.dingtalk_secret)
            )
        clock.advance(timedelta(seconds=30))
        robots.state.now_ms = dingtalk_timestamp(clock.now())
        transport.send(
            digest("dingtalk", robots.dingtalk_url, [notice(1)], secret=robots.state.dingtalk_secret)
        )
    first, second = robots.state.hits
    assert int(second.query["timestamp"]) - int(first.query["timestamp"]) == 30_000
    assert first.query["sign"] != second.query["sign"]
    assert second.answer["errcode"] == 0


def test_dingtalk_wrong_secret_is_refused_and_not_retryable(robots: RobotServer) -> None:
    with (
        DingTalkTransport(FixedClock(NOW), 5.0, tz=SHANGHAI) as transport,
        pytest.raises(DeliveryFailed) as caught,
    ):
        transport.send(digest("dingtalk", robots.dingtalk_url, [notice(1)], secret="SECnot-the-right-one"))
    assert caught.value.retryable is False
    assert "310000" in caught.value.message
    assert robots.state.hits[0].answer["errmsg"] == "sign not match"


def test_dingtalk_stale_clock_is_refused(robots: RobotServer) -> None:
    stale = FixedClock(NOW - timedelta(hours=2))
    with DingTalkTransport(stale, 5.0, tz=SHANGHAI) as transport, pytest.raises(DeliveryFailed) as caught:
        transport.send(
            digest("dingtalk", robots.dingtalk_url, [notice(1)], secret=robots.state.dingtalk_secret)
        )
    assert "310000" in caught.value.message
    assert robots.state.hits[0].answer["errmsg"] == "invalid timestamp"


def test_dingtalk_too_frequent_is_retried_with_backoff_until_it_succeeds(robots: RobotServer) -> None:
    robots.state.fail_next(3, "errcode")
    clock = FixedClock(NOW)
    rng = random.Random(42)
    waits: list[float] = []
    with DingTalkTransport(clock, 5.0, tz=SHANGHAI) as transport:
        for attempt in range(1, 10):
            try:
                transport.send(
                    digest("dingtalk", robots.dingtalk_url, mixed(40), secret=robots.state.dingtalk_secret)
                )
                break
            except DeliveryFailed as failure:
                assert failure.retryable and "130101" in failure.message
                wait = backoff_delay(attempt, 1.0, 60.0, rng)
                waits.append(wait)
                clock.advance(timedelta(seconds=wait))  # the test's clock, not a real sleep
                robots.state.now_ms = dingtalk_timestamp(clock.now())
    assert len(waits) == 3
    assert [h.answer["errcode"] for h in robots.state.hits] == [130101, 130101, 130101, 0]


def test_generic_webhook_sends_json_with_idempotency_key(robots: RobotServer) -> None:
    notices = [notice(1, "escalation"), notice(2, "approved")]
    with GenericWebhookTransport(5.0, tz=SHANGHAI) as transport:
        transport.send(digest("webhook", robots.hook_url, notices, key="outbox-77"))
    (hit,) = robots.state.hits
    assert hit.answer == {"accepted": "outbox-77"}  # the server checked header == body key
    assert hit.headers["Idempotency-Key"] == "outbox-77"
    assert hit.body["subject"] == "督办提醒：2 项任务（1 项已逾期）"
    assert "【已通过】" in hit.body["text"]
    assert [n["task_id"] for n in hit.body["notices"]] == [1, 2]
    assert hit.body["notices"][0]["due_at"] == "2026-07-01T00:00:00+08:00"
    assert hit.body["notices"][0]["title"] == "新任工会干部上岗培训"


def test_generic_webhook_5xx_is_retryable_then_recovers(robots: RobotServer) -> None:
    robots.state.fail_next(2, "http500")
    failures: list[DeliveryFailed] = []
    with GenericWebhookTransport(5.0, tz=SHANGHAI) as transport:
        while True:
            try:
                transport.send(digest("webhook", robots.hook_url, [notice(1)], key="same-key"))
                break
            except DeliveryFailed as failure:
                failures.append(failure)
                assert len(failures) < 5
    assert [f.retryable for f in failures] == [True, True]
    assert "HTTP 500" in failures[0].message
    assert [h.headers["Idempotency-Key"] for h in robots.state.hits] == ["same-key"] * 3


def test_generic_webhook_4xx_is_not_retryable_but_429_is(robots: RobotServer) -> None:
    with GenericWebhookTransport(5.0, tz=SHANGHAI) as transport:
        robots.state.fail_next(1, "http400")
        with pytest.raises(DeliveryFailed) as bad:
            transport.send(digest("webhook", robots.hook_url, [notice(1)]))
        robots.state.fail_next(1, "http429")
        with pytest.raises(DeliveryFailed) as throttled:
            transport.send(digest("webhook", robots.hook_url, [notice(1)]))
    assert bad.value.retryable is False
    assert throttled.value.retryable is True


def test_generic_webhook_timeout_is_retryable(robots: RobotServer) -> None:
    robots.state.fail_next(1, "slow")
    robots.state.slow_seconds = 1.0
    with GenericWebhookTransport(0.2, tz=SHANGHAI) as transport, pytest.raises(DeliveryFailed) as caught:
        transport.send(digest("webhook", robots.hook_url, [notice(1)]))
    assert caught.value.retryable is True
    assert "timed out" in caught.value.message


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        with GenericWebhookTransport(2.0) as transport, pytest.raises(DeliveryFailed) as caught:
            transport.send(digest("webhook", f"http://{LOOPBACK}:{port}/hook", [notice(1)]))
    assert caught.value.retryable is True


# --- the rest ---------------------------------------------------------------------------


def test_noop_transport_counts() -> None:
    noop = NoopTransport()
    noop.send(digest("email", "a@example.org", mixed(3)))
    noop.send(digest("email", "b@example.org", mixed(2)))
    assert (noop.sent, noop.notices) == (2, 5)


def test_transport_for_builds_each_channel(robots: RobotServer) -> None:
    clock = FixedClock(NOW)
    settings = ChannelSettings(tz=SHANGHAI, smtp_host="mail.example.org")
    assert isinstance(transport_for("email", settings, clock), SmtpTransport)
    assert isinstance(transport_for("webhook", settings, clock), GenericWebhookTransport)
    assert isinstance(transport_for("generic", settings, clock), GenericWebhookTransport)
    assert isinstance(transport_for("wecom", settings, clock), WeComTransport)
    ding = transport_for("dingtalk", settings, clock)
    assert isinstance(ding, DingTalkTransport)
    ding.send(digest("dingtalk", robots.dingtalk_url, [notice(1)], secret=robots.state.dingtalk_secret))
    assert robots.state.hits[-1].answer["errcode"] == 0
    with pytest.raises(DeliveryFailed) as unconfigured:
        transport_for("email", ChannelSettings(), clock)
    assert unconfigured.value.retryable is False
    with pytest.raises(ValueError):
        transport_for("inbox", settings, clock)
    with pytest.raises(ValueError):
        transport_for("pigeon", settings, clock)


def test_digest_and_notice_refuse_bad_values() -> None:
    with pytest.raises(ValueError):
        notice(1, due_at=datetime(2026, 6, 30))
    with pytest.raises(ValueError):
        digest("fax", "x", [notice(1)])
    with pytest.raises(ValueError):
        digest("email", "a@example.org", [])


def test_a_webhook_body_stays_within_its_limit_with_a_count_of_the_rest() -> None:
    """Many units on one URL: 12,000 notices once made a 4 MB body."""
    notices = [notice(i, "reminder", unit_name="某某" * 30) for i in range(1, 12_001)]
    payload = webhook_payload(digest("webhook", "http://127.0.0.1:9/hook", notices, key="k"), SHANGHAI)
    size = len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    assert size <= WEBHOOK_MAX_BYTES
    assert payload["count"] == 12_000
    assert 0 < len(payload["notices"]) < 12_000
    assert payload["omitted"] == 12_000 - len(payload["notices"])
    assert [n["task_id"] for n in payload["notices"]] == list(range(1, len(payload["notices"]) + 1))
    for transport_max, render in ((4096, "wecom"), (15000, "dingtalk")):
        message = render_within(digest(render, "http://x", notices), SHANGHAI, transport_max)
        assert len(message.text_markdown.encode("utf-8")) <= transport_max
        assert "另有" in message.text_markdown
