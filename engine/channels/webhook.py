"""The generic webhook: the digest as JSON, for systems that are not one of the known robots."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from duban.engine.channels.http_post import HttpTransport
from duban.engine.channels.model import Digest, Notice
from duban.engine.channels.render import DEFAULT_MAX_LINES, render_digest


def webhook_payload(digest: Digest, tz: tzinfo, *, max_lines: int = DEFAULT_MAX_LINES) -> dict[str, Any]:
    """The JSON body of a generic webhook: the rendered text plus every notice as data."""
    message = render_digest(digest, tz, max_lines=max_lines)
    return {
        "idempotency_key": digest.idempotency_key,
        "subject": message.subject,
        "text": message.text_plain,
        "markdown": message.text_markdown,
        "count": len(digest.notices),
        "notices": [notice_json(n, tz) for n in digest.notices],
    }


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
