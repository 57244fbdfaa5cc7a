"""The WeCom (企业微信) group robot: a Markdown message of at most 4,096 bytes."""

from __future__ import annotations

from typing import Final

from duban.engine.channels.errors import DeliveryFailed
from duban.engine.channels.http_post import HttpTransport, redact_url, robot_errcode
from duban.engine.channels.model import Digest
from duban.engine.channels.render import render_within

WECOM_MAX_BYTES: Final = 4096
# -1: system busy; 45009: the robot's rate limit (20 messages a minute).
WECOM_RETRYABLE_ERRCODES: Final = frozenset({-1, 45009})


class WeComTransport(HttpTransport):
    """Posts {"msgtype": "markdown", "markdown": {"content": ...}} to a WeCom robot URL."""

    def send(self, digest: Digest) -> None:
        """Deliver the digest to the robot at `digest.address`, or raise DeliveryFailed."""
        message = render_within(digest, self._tz, WECOM_MAX_BYTES, max_lines=self._max_lines)
        payload = {"msgtype": "markdown", "markdown": {"content": message.text_markdown}}
        where = redact_url(digest.address)
        response = self.post_json(digest.address, payload)
        errcode, errmsg = robot_errcode(response, where)
        if errcode != 0:
            raise DeliveryFailed(
                f"{where}: WeCom errcode {errcode}: {errmsg}", retryable=errcode in WECOM_RETRYABLE_ERRCODES
            )
