"""The generic webhook: the digest as JSON, for systems that are not one of the known robots.

The body stays under WEBHOOK_MAX_BYTES whatever the digest holds (many units may share one
URL, and one digest may then carry thousands of notices): the notices are listed until the
budget is spent, and `count` and `omitted` say how many there were and how many are left out.
"""

from __future__ import annotations

import json
from datetime import tzinfo
from typing import Any, Final

from duban.engine.channels.http_post import HttpTransport
from duban.engine.channels.model import Digest, Notice
from duban.engine.channels.render import DEFAULT_MAX_LINES, render_within

WEBHOOK_MAX_BYTES: Final = 64 * 1024
# The rendered text and Markdown together take at most this much of the budget.
_TEXT_BYTES: Final = 16 * 1024


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def webhook_payload(
    digest: Digest, tz: tzinfo, *, max_lines: int = DEFAULT_MAX_LINES, max_bytes: int = WEBHOOK_MAX_BYTES
) -> dict[str, Any]:
    """The JSON body of a generic webhook: the rendered text plus the notices as data, within `max_bytes`."""
    # The plain text lists the same notices as the Markdown, so bounding one bounds both.
    message = render_within(digest, tz, _TEXT_BYTES // 2, max_lines=max_lines)
    payload: dict[str, Any] = {
        "idempotency_key": digest.idempotency_key,
        "subject": message.subject,
        "text": message.text_plain,
        "markdown": message.text_markdown,
        "count": len(digest.notices),
        "omitted": 0,
        "notices": [],
    }
    budget = max_bytes - _size(payload) - 32
    listed: list[dict[str, Any]] = []
    for notice in digest.notices:
        item = notice_json(notice, tz)
        cost = _size(item) + 2
        if cost > budget:
            break
        budget -= cost
        listed.append(item)
    payload["notices"] = listed
    payload["omitted"] = len(digest.notices) - len(listed)
    return payload


def notice_json(notice: Notice, tz: tzinfo) -> dict[str, Any]:
    """One notice as JSON; times are ISO-8601 with the deployment's offset."""
    return {
        "task_id": notice.task_id,
        "kind": notice.kind,
        "step": notice.step,
        "title": notice.title,
        "title_en": notice.title_en,
        "unit_code": notice.unit_code,
        "unit_name": notice.unit_name,
        "due_at": notice.due_at.astimezone(tz).isoformat(),
        "escalation_level": notice.escalation_level,
        "period": notice.period,
        "reason": notice.reason,
    }


class GenericWebhookTransport(HttpTransport):
    """POSTs the digest as JSON with an Idempotency-Key header; 2xx means delivered."""

    def send(self, digest: Digest) -> None:
        """Deliver the digest to `digest.address`, or raise DeliveryFailed."""
        payload = webhook_payload(digest, self._tz, max_lines=self._max_lines)
        # The receiver dedupes on this key, so a resend after a crash is harmless there.
        self.post_json(digest.address, payload, {"Idempotency-Key": digest.idempotency_key})
