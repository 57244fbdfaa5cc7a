"""The DingTalk (钉钉) custom robot: a Markdown message to a signed webhook URL.

With the robot's "加签" security setting, each request carries `timestamp` (ms) and
`sign` = urlquote(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))); DingTalk
refuses a timestamp more than an hour from its own clock, so the time comes from the
injected clock, which must be the real time when sending for real.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final
from urllib.parse import quote_plus

import httpx

from duban.engine.channels.errors import DeliveryFailed
from duban.engine.channels.http_post import HttpTransport, redact_url, robot_errcode
from duban.engine.channels.model import Digest
from duban.engine.channels.render import DEFAULT_MAX_LINES, DEFAULT_TZ, render_within
from duban.engine.time.clock import Clock

# A conservative bound on the Markdown text; DingTalk refuses over-long messages outright.
DINGTALK_MAX_BYTES: Final = 15000
# -1: system busy; 130101: sending too fast (20 messages a minute per robot).
DINGTALK_RETRYABLE_ERRCODES: Final = frozenset({-1, 130101})
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def dingtalk_timestamp(instant: datetime) -> int:
    """Milliseconds since the Unix epoch, exactly (no float rounding)."""
    return (instant - _EPOCH) // timedelta(milliseconds=1)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The URL-quoted `sign` parameter for `timestamp_ms` and the robot's signing secret."""
    string_to_sign = f"{timestamp_ms}\n{secret}"
    digest = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """The robot URL with `&timestamp=...&sign=...` appended."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


class DingTalkTransport(HttpTransport):
    """Posts a Markdown message to a DingTalk robot, signing the URL when the digest has a secret."""

    def __init__(
        self,
        clock: Clock,
        timeout: float = 10.0,
        *,
        tz: tzinfo = DEFAULT_TZ,
        max_lines: int = DEFAULT_MAX_LINES,
        max_bytes: int = DINGTALK_MAX_BYTES,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(timeout, tz=tz, max_lines=max_lines, client=client)
        self._clock = clock
        self._max_bytes = max_bytes

    def send(self, digest: Digest) -> None:
        """Deliver the digest to the robot at `digest.address`, or raise DeliveryFailed."""
        message = render_within(digest, self._tz, self._max_bytes, max_lines=self._max_lines)
        payload = {
            "msgtype": "markdown",
            "markdown": {"title": message.subject, "text": message.text_markdown},
        }
        url = digest.address
        if digest.secret:
            # Signed per attempt: a retry an hour later needs a fresh timestamp.
            url = dingtalk_signed_url(url, digest.secret, dingtalk_timestamp(self._clock.now()))
        where = redact_url(digest.address)
        response = self.post_json(url, payload)
        errcode, errmsg = robot_errcode(response, where)
        if errcode != 0:
            raise DeliveryFailed(
                f"{where}: DingTalk errcode {errcode}: {errmsg}",
                retryable=errcode in DINGTALK_RETRYABLE_ERRCODES,
            )
