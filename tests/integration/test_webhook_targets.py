"""Where webhooks may post (OWASP API7, SSRF): never link-local or cloud metadata addresses, and only the
listed hosts when the deployment lists them; checked when a target is set and again before each send."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from channel_servers import RobotServer, robot_server
from sqlalchemy import Engine, func, select

from duban.api.web.refusals import say
from duban.engine.access.actors import OPERATOR
from duban.engine.channels import DeliveryFailed, Digest, Notice
from duban.engine.channels import targets as targets_module
from duban.engine.channels.registry import ChannelSettings, transport_for
from duban.engine.errors import ImportRefused, InvalidInput
from duban.engine.org.contacts import set_contacts
from duban.engine.org.units import import_units, read_units
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Audit, Unit
from duban.engine.time.clock import FixedClock

FIXTURES = Path(__file__).parent.parent / "fixtures"
CLOCK = FixedClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
REFUSED = (
    "http://169.254.169.254/latest/meta-data/iam/",
    "http://[fe80::1]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://100.100.100.200/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://0.0.0.0:8000/hook",
)
ALLOWED = (
    "http://127.0.0.1:9/hook",
    "http://10.20.30.40/cgi-bin/webhook/send?key=k",
    "https://qyapi.weixin.qq.com/x",
)


@pytest.fixture
def tree(db: Engine, replay: Any) -> Engine:
    with write_session(db) as s:
        import_units(s, replay.rt.now(), OPERATOR, read_units(FIXTURES / "tree.csv"))
    return db


@pytest.fixture
def robots() -> Iterator[RobotServer]:
    with robot_server() as server:
        yield server


def _contacts(db: Engine, code: str) -> tuple[Any, int]:
    with read_session(db) as s:
        unit = s.scalars(select(Unit).where(Unit.code == code)).one()
        audits = s.scalar(select(func.count()).where(Audit.action == "unit.contacts_set"))
        return unit.contacts, audits or 0


@pytest.mark.parametrize("url", REFUSED)
def test_a_metadata_or_link_local_target_is_refused_when_set_and_nothing_changes(
    tree: Engine, replay: Any, url: str
) -> None:
    before = _contacts(tree, "G01")
    with pytest.raises(InvalidInput) as refused, write_session(tree) as s:
        set_contacts(s, replay.rt.now(), OPERATOR, "G01", [], [f"generic={url}"])
    (problem,) = refused.value.problems
    assert problem.where == "G01" and problem.field == "contacts"
    assert "link-local or cloud metadata" in problem.message
    assert _contacts(tree, "G01") == before
    zh = say(problem.message, "zh")
    assert zh is not None and "元数据地址" in zh and "推送地址" in zh


@pytest.mark.parametrize("url", ALLOWED)
def test_intranet_and_public_targets_are_allowed_without_a_list(tree: Engine, replay: Any, url: str) -> None:
    with write_session(tree) as s:
        set_contacts(s, replay.rt.now(), OPERATOR, "G01", [], [f"wecom={url}"])
    assert _contacts(tree, "G01")[0]["webhooks"][0]["url"] == url


def test_with_a_list_only_its_hosts_may_be_named(tree: Engine, replay: Any) -> None:
    hosts = ("qyapi.weixin.qq.com", "*.union.example")
    with write_session(tree) as s:
        for url in (
            "https://qyapi.weixin.qq.com/x",
            "https://robot.union.example/x",
            "https://union.example/x",
        ):
            set_contacts(s, replay.rt.now(), OPERATOR, "G01", [], [f"generic={url}"], hosts)
    for url in (
        "http://10.20.30.40/hook",
        "https://evilunion.example/x",
        "https://qyapi.weixin.qq.com.evil.cn/x",
    ):
        with pytest.raises(InvalidInput, match="not among the hosts") as refused, write_session(tree) as s:
            set_contacts(s, replay.rt.now(), OPERATOR, "G01", [], [f"generic={url}"], hosts)
        zh = say(refused.value.problems[0].message, "zh")
        assert zh is not None and "不在本系统允许的推送主机之列" in zh
    assert _contacts(tree, "G01")[0]["webhooks"][0]["url"] == "https://union.example/x"


def test_an_import_naming_a_refused_target_is_refused_with_its_row(tmp_path: Path) -> None:
    units = tmp_path / "units.csv"
    units.write_text(
        "code,name,parent_code,level,contacts\n"
        'A1,甲,,provincial,"{""webhooks"": [{""kind"": ""generic"", ""url"": ""https://robot.example/x""}]}"\n'
        'A2,乙,A1,municipal,"{""webhooks"": [{""kind"": ""generic"", ""url"": ""http://169.254.169.254/""}]}"\n',
        encoding="utf-8",
    )
    with pytest.raises(ImportRefused) as refused:
        read_units(units)
    assert [(p.where.rsplit(":", 1)[1], p.field) for p in refused.value.problems] == [("3", "contacts")]
    with pytest.raises(ImportRefused) as unlisted:
        read_units(units, ("hooks.example",))
    lines = sorted(p.where.rsplit(":", 1)[1] for p in unlisted.value.problems)
    assert lines == ["2", "3"]
    assert any("not among the hosts" in p.message for p in unlisted.value.problems)


def _digest(url: str) -> Digest:
    notice = Notice(
        task_id=1,
        kind="reminder",
        step=1,
        title="检查",
        title_en="Check",
        unit_code="G01",
        unit_name="甲",
        due_at=datetime(2026, 3, 12, 9, 0, tzinfo=UTC),
        escalation_level=0,
        period="",
    )
    return Digest(channel="webhook", address=url, secret=None, notices=[notice], idempotency_key="k-1")


def test_a_name_resolving_to_a_metadata_address_is_not_sent_to(
    robots: RobotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check after resolving: a harmless-looking name that points at the metadata service."""
    real = socket.getaddrinfo

    def lying_dns(host: str, *args: Any, **kw: Any) -> Any:
        if host == "hooks.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80))]
        if host == "mapped.example":
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:169.254.169.254", 80, 0, 0))]
        return real(host, *args, **kw)

    monkeypatch.setattr(targets_module.socket, "getaddrinfo", lying_dns)
    port = robots.base_url.rsplit(":", 1)[1]
    with transport_for("webhook", ChannelSettings(), CLOCK) as transport:
        for name in ("hooks.example", "mapped.example"):
            with pytest.raises(DeliveryFailed, match=r"resolves to .*metadata") as failed:
                transport.send(_digest(f"http://{name}:{port}/hook"))
            assert not failed.value.retryable
        transport.send(_digest(robots.hook_url))  # the loopback receiver itself is allowed
    assert len(robots.state.hits) == 1


def test_with_a_list_a_send_to_another_host_is_refused_before_connecting(robots: RobotServer) -> None:
    settings = ChannelSettings(webhook_hosts=("robot.union.example",))
    transport = transport_for("webhook", settings, CLOCK)
    with pytest.raises(DeliveryFailed, match="not among the hosts") as failed:
        transport.send(_digest(robots.hook_url))
    assert not failed.value.retryable
    assert robots.state.hits == []
