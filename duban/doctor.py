"""`duban doctor`: what a deployment lacks, found before a notice is lost or a deadline is miscounted.

It reads the settings and the database and changes nothing. Each finding is an error (the
deployment will fail someone: exit 1), a warning (it works, with a gap an operator should
know of) or fine; each says what is wrong in Chinese and in plain English, and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, text

from duban.bootstrap import transports
from duban.engine.followup.notices import WEBHOOK_CHANNELS, heard_sql
from duban.engine.runtime import Runtime
from duban.engine.store.db import read_session
from duban.engine.store.models import Account, Unit
from duban.engine.store.schema import current_revision, head_revision
from duban.settings import PLACEHOLDER_SECRET, Settings

ERROR, WARNING, OK = "error", "warning", "ok"
SAMPLE = 10  # units named in a finding; the count says how many in all


@dataclass(frozen=True)
class Finding:
    level: str
    zh: str
    en: str

    def to_json(self) -> dict[str, str]:
        return {"level": self.level, "zh": self.zh, "en": self.en}


def _settings(settings: Settings) -> list[Finding]:
    if settings.secret_key != PLACEHOLDER_SECRET:
        return [Finding(OK, "密钥已设置。", "DUBAN_SECRET_KEY is set.")]
    if settings.local:
        return [
            Finding(
                WARNING,
                "密钥仍是占位值：仅适合本机试用；正式部署请设置 DUBAN_SECRET_KEY 并设 DUBAN_LOCAL=false。",
                "DUBAN_SECRET_KEY is still the placeholder: fine on a laptop; in production set it and DUBAN_LOCAL=false.",
            )
        ]
    return [
        Finding(
            ERROR,
            "密钥仍是占位值，而本部署不是本机试用（DUBAN_LOCAL=false）：服务将拒绝启动。请设置 DUBAN_SECRET_KEY。",
            "DUBAN_SECRET_KEY is still the placeholder with DUBAN_LOCAL=false: the server will refuse to start.",
        )
    ]


def _database(engine: Engine) -> list[Finding]:
    try:
        current = current_revision(engine)
    except Exception as exc:  # any driver's way of saying "cannot connect" ends the other checks
        return [
            Finding(
                ERROR,
                f"无法连接数据库：{type(exc).__name__}。请检查 DUBAN_DATABASE_URL。",
                f"the database cannot be reached ({type(exc).__name__}); check DUBAN_DATABASE_URL.",
            )
        ]
    head = head_revision()
    if current != head:
        return [
            Finding(
                ERROR,
                f"数据库结构不是最新（{current or '空'} → {head}）：请运行 duban init。",
                f"the schema is at {current or 'nothing'}, not {head}: run `duban init`.",
            )
        ]
    return [Finding(OK, "数据库可连接，结构为最新。", "the database answers and its schema is current.")]


def _channels_in_use(engine: Engine) -> dict[str, int]:
    """How many addresses each channel has: unit contacts and the acting accounts' email."""
    used: dict[str, int] = {}
    with read_session(engine) as s:
        for (contacts,) in s.execute(
            select(Unit.contacts).where(text("CAST(unit.contacts AS TEXT) <> '{}'"))
        ):
            contacts = contacts or {}
            used["email"] = used.get("email", 0) + len(contacts.get("email", []) or [])
            for hook in contacts.get("webhooks", []) or []:
                channel = WEBHOOK_CHANNELS.get(hook.get("kind", ""), "webhook")
                used[channel] = used.get(channel, 0) + 1
        emails = s.scalar(
            select(func.count()).select_from(Account).where(Account.email.is_not(None), Account.active)
        )
    if emails:
        used["email"] = used.get("email", 0) + emails
    return used


def _transports(settings: Settings, engine: Engine, rt: Runtime) -> list[Finding]:
    have = set(transports(settings, rt.clock))
    findings = []
    for channel, count in sorted(_channels_in_use(engine).items()):
        if channel in have:
            findings.append(
                Finding(
                    OK,
                    f"{channel}：{count} 个地址，发送通道已配置。",
                    f"{channel}: {count} addresses, transport ready.",
                )
            )
        elif channel == "email":
            findings.append(
                Finding(
                    ERROR,
                    f"有 {count} 个邮箱地址，但未配置邮件服务器（DUBAN_SMTP_HOST）：这些邮件通知都会发送失败。",
                    f"{count} email addresses but no SMTP server (DUBAN_SMTP_HOST): every email notice becomes a dead letter.",
                )
            )
        else:
            findings.append(
                Finding(
                    ERROR,
                    f"有 {count} 个 {channel} 地址，但没有可用的发送通道。",
                    f"{count} {channel} addresses but no transport for {channel}.",
                )
            )
    if "email" not in have and not any(f.level == ERROR for f in findings):
        findings.append(
            Finding(
                WARNING,
                "未配置邮件服务器（DUBAN_SMTP_HOST）：目前无人使用邮件，通知只进站内信和 webhook。",
                "no SMTP server configured (DUBAN_SMTP_HOST): no address uses email yet; notices go to inboxes and webhooks.",
            )
        )
    return findings


def _unheard(engine: Engine) -> list[Finding]:
    unit = Unit.__table__
    with read_session(engine) as s:
        codes = list(
            s.scalars(select(unit.c.code).where(text(f"NOT {heard_sql('unit')}")).order_by(unit.c.path))
        )
        total = s.scalar(select(func.count()).select_from(unit)) or 0
    if not codes:
        return [
            Finding(
                OK,
                f"全部 {total} 个单位都有人接收通知。",
                f"all {total} units have someone who hears their notices.",
            )
        ]
    shown = "、".join(codes[:SAMPLE]) + ("等" if len(codes) > SAMPLE else "")
    return [
        Finding(
            WARNING,
            f"{len(codes)} 个单位（共 {total} 个）既无联系方式也无可用账号，它们的提醒和督办无人收到：{shown}。"
            "请用 duban contacts set 或 duban accounts add 补上。",
            f"{len(codes)} of {total} units have no contact and no acting account; nobody hears their reminders "
            f"({', '.join(codes[:SAMPLE])}{', ...' if len(codes) > SAMPLE else ''}): add contacts or accounts.",
        )
    ]


def _calendar(rt: Runtime) -> list[Finding]:
    today = rt.local(rt.now()).date()
    status = rt.calendar.status(today, warn_days=366)
    known = status.known_years
    if not rt.calendar.is_known(today.year):
        return [
            Finding(
                ERROR,
                f"工作日历不含今年（{today.year}）的放假安排：今年按工作日计算的期限都是暂定的。请在日历覆盖文件中补上。",
                f"the calendar does not know {today.year}: this year's working-day deadlines are provisional; "
                "add its schedule to the override file.",
            )
        ]
    if not rt.calendar.is_known(today.year + 1):
        return [
            Finding(
                WARNING,
                f"工作日历尚无明年（{today.year + 1}）的放假安排：跨年的期限将是暂定的，国务院通知发布后请补上。",
                f"the calendar does not know {today.year + 1} yet: deadlines in it are provisional until its "
                "schedule is added.",
            )
        ]
    return [
        Finding(
            OK,
            f"工作日历已知年份：{', '.join(map(str, known))}。",
            f"the calendar knows {known[0]}–{known[-1]}.",
        )
    ]


def diagnose(settings: Settings, engine: Engine, rt: Runtime) -> list[Finding]:
    """Every finding, in the order an operator fixes them: settings, database, transports, units, calendar."""
    findings = _settings(settings) + _database(engine)
    if findings[-1].level == ERROR:
        return findings  # without the database the rest cannot be asked
    return findings + _transports(settings, engine, rt) + _unheard(engine) + _calendar(rt)


def summary(findings: list[Finding]) -> dict[str, Any]:
    return {
        "errors": sum(f.level == ERROR for f in findings),
        "warnings": sum(f.level == WARNING for f in findings),
        "findings": [f.to_json() for f in findings],
    }
