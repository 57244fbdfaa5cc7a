"""Turning a digest into one readable message (Chinese first), whatever the channel.

Notices are grouped by kind, the most urgent group first, with counts; only the
first `max_lines` notices are listed so that a county with 3,000 late branches
still gets a message a person can read (the rest are counted, not listed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from typing import Final
from zoneinfo import ZoneInfo

from duban.engine.channels.model import Digest, Notice
from duban.engine.channels.text import truncate_utf8, utf8_len
from duban.engine.glossary import has, label
from duban.engine.time.timeline import last_day

# Display order is urgency order: what needs action now comes first. The words are the glossary's.
KIND_ORDER: Final = (
    "escalation",
    "approval_overdue",
    "urge",
    "reminder",
    "rejected",
    "submitted",
    "assigned",
    "extended",
    "approved",
    "waived",
    "cancelled",
)
KIND_LABELS: Final[dict[str, str]] = {k: label(f"kind.{k}") for k in KIND_ORDER}
KIND_LABELS_EN: Final[dict[str, str]] = {k: label(f"kind.{k}", "en").lower() for k in KIND_ORDER}
_REASON_KINDS: Final = {
    "rejected": "reason.rejected",
    "urge": "reason.urge",
    "waived": "reason.waived",
    "approved": "reason.approved",
}

DEFAULT_MAX_LINES: Final = 50
# Only a default for callers that pass nothing; the delivery step passes the deployment's zone.
DEFAULT_TZ: Final = ZoneInfo("Asia/Shanghai")
# One field (a title, a unit name, a reason) never takes more than this many characters,
# so a single odd row cannot crowd out the rest of the message.
_FIELD_CHARS: Final = 120
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class RenderedMessage:
    """A digest as text: a subject line, a Markdown body (robots) and a plain body (email, webhook)."""

    subject: str
    text_markdown: str
    text_plain: str


def kind_label(kind: str) -> str:
    """The Chinese label of a notice kind (unknown kinds are shown as themselves)."""
    return label(f"kind.{kind}") if has(f"kind.{kind}") else f"通知·{kind}"


def format_due(due_at: datetime, tz: tzinfo) -> str:
    """A deadline as the reader thinks of it, in the deployment's time zone.

    A date-granular deadline ("by the end of 30 June") may be stored as the next local
    midnight or as the last second of the day; both are shown as that day's date.
    """
    local = due_at.astimezone(tz)
    clock_time = local.time().replace(microsecond=0)
    if clock_time in (time(0, 0), time(23, 59, 59)):
        return last_day(local).isoformat()
    return local.strftime("%Y-%m-%d %H:%M")


def notice_line(notice: Notice, tz: tzinfo) -> str:
    """One notice as one line, e.g. "【即将到期】新任工会干部上岗培训 — 某某工会，截止 2026-06-30，任务 #12"."""
    title = _clean(notice.title) or _clean(notice.title_en)
    if notice.period:
        title += f"（{_clean(notice.period)}）"
    unit = _clean(notice.unit_name) or _clean(notice.unit_code)
    parts = [f"【{kind_label(notice.kind)}】{title} — {unit}", f"截止 {format_due(notice.due_at, tz)}"]
    if notice.kind == "escalation" and notice.escalation_level > 0:
        parts.append(f"第 {notice.escalation_level} 级督办")
    if notice.reason:
        parts.append(f"{label(_REASON_KINDS.get(notice.kind, 'reason.other'))}：{_clean(notice.reason)}")
    parts.append(f"任务 #{notice.task_id}")
    return "，".join(parts)


def render_digest(digest: Digest, tz: tzinfo, *, max_lines: int = DEFAULT_MAX_LINES) -> RenderedMessage:
    """Render a digest as one message: subject, counts per kind, and at most `max_lines` listed notices."""
    if max_lines < 0:
        raise ValueError("max_lines must not be negative")
    groups = _group(digest.notices)
    total = len(digest.notices)
    overdue = len(groups.get("escalation", ()))

    subject = f"督办提醒：{total} 项任务"
    if overdue:
        subject += f"（{overdue} 项已逾期）"
    summary = "共 {} 项：{}".format(
        total, "，".join(f"{kind_label(k)} {len(ns)} 项" for k, ns in groups.items())
    )

    md: list[str] = [f"### {subject}", "", summary, ""]
    plain: list[str] = [subject, summary, ""]
    budget = max_lines
    for kind, notices in groups.items():
        shown = notices[:budget]
        budget -= len(shown)
        header = f"{kind_label(kind)}（{len(notices)} 项）"
        md.append(f"**{header}**")
        md.append("")
        plain.append(header)
        for notice in shown:
            line = notice_line(notice, tz)
            md.append(f"- {line}")
            plain.append(f"  {line}")
        if len(shown) < len(notices):
            more = f"……另有 {len(notices) - len(shown)} 项"
            md.append(f"- {more}")
            plain.append(f"  {more}")
        md.append("")
        plain.append("")

    listed = min(total, max_lines)
    if listed < total:
        cap_note = f"（仅列出前 {listed} 项，另有 {total - listed} 项未列出，请登录督办系统查看全部。）"
        md.append(cap_note)
        plain.append(cap_note)
    closing = "请登录督办系统查看和办理。"
    md.append(closing)
    plain.append(closing)
    plain.append("")
    plain.append(_english_summary(groups, total))
    return RenderedMessage(subject=subject, text_markdown="\n".join(md), text_plain="\n".join(plain))


def render_within(
    digest: Digest, tz: tzinfo, max_bytes: int, *, max_lines: int = DEFAULT_MAX_LINES
) -> RenderedMessage:
    """Render a digest so that its Markdown body fits in `max_bytes` UTF-8 bytes (robot size limits).

    Lists fewer notices until it fits, so the "另有 N 项" counts stay true; only when even
    the bare counts do not fit is the text cut, on a character boundary.
    """
    limit = max_lines
    while True:
        message = render_digest(digest, tz, max_lines=limit)
        size = utf8_len(message.text_markdown)
        if size <= max_bytes:
            return message
        if limit == 0:
            cut = truncate_utf8(message.text_markdown, max_bytes, marker="\n……（内容过长，已截断）")
            return RenderedMessage(message.subject, cut, message.text_plain)
        # Shrink in proportion to the overshoot: converges in a few renders, not `limit` of them.
        limit = max(0, min(limit - 1, limit * max_bytes // size))


def _group(notices: Sequence[Notice]) -> dict[str, list[Notice]]:
    order = {kind: i for i, kind in enumerate(KIND_ORDER)}
    groups: dict[str, list[Notice]] = {}
    for notice in notices:
        groups.setdefault(notice.kind, []).append(notice)
    for group in groups.values():
        group.sort(key=lambda n: (n.due_at, n.unit_code, n.task_id, n.step))
    return dict(sorted(groups.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def _clean(value: str) -> str:
    # User data must not break the layout: newlines would start a new Markdown block.
    text = _WHITESPACE.sub(" ", value).strip()
    return text if len(text) <= _FIELD_CHARS else text[: _FIELD_CHARS - 1] + "…"


def _english_summary(groups: dict[str, list[Notice]], total: int) -> str:
    counts = ", ".join(f"{len(ns)} {KIND_LABELS_EN.get(k, k)}" for k, ns in groups.items())
    return f"duban: {total} notice{'s' if total != 1 else ''} ({counts}). Sign in to duban to act on them."
