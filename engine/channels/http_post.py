"""Posting JSON over HTTP for the webhook transports, and sorting HTTP failures into retry or give up."""

from __future__ import annotations

import json
from datetime import tzinfo
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import httpx

from duban.engine.channels.errors import DeliveryFailed
from duban.engine.channels.render import DEFAULT_MAX_LINES, DEFAULT_TZ
from duban.engine.channels.targets import TargetRefused, check_before_sending

# Statuses that say "not now" rather than "never": timeouts, rate limits, server trouble.
_RETRYABLE_STATUSES: Final = frozenset({408, 425, 429})


def redact_url(url: str) -> str:
    """A URL safe to log: robot URLs carry their credential (key, access_token) in the query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}{parts.path}"


class HttpTransport:
    """Base for the HTTP transports: one pooled httpx client, explicit timeouts, no redirects.

    `allowed_hosts` (DUBAN_WEBHOOK_HOSTS) limits where it posts; empty allows any host but the
    refused addresses (`targets.py`), checked before every send after resolving the name.
    """

    allowed_hosts: tuple[str, ...] = ()

    def __init__(
        self,
        timeout: float = 10.0,
        *,
        tz: tzinfo = DEFAULT_TZ,
        max_lines: int = DEFAULT_MAX_LINES,
        client: httpx.Client | None = None,
    ) -> None:
        self._tz = tz
        self._max_lines = max_lines
        self._owns_client = client is None
        # Redirects are not followed: a webhook that redirects a POST is misconfigured,
        # and following it could hand the body (and its URL credential) to another host.
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False)

    def close(self) -> None:
        """Close the HTTP client if this transport created it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def post_json(self, url: str, payload: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        """POST `payload` as UTF-8 JSON; return a 2xx response or raise DeliveryFailed."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        where = redact_url(url)
        try:
            check_before_sending(url, self.allowed_hosts)
        except TargetRefused as exc:
            raise DeliveryFailed(f"{where}: {exc}", retryable=False) from None
        try:
            response = self._client.post(url, content=body, headers=all_headers)
        except httpx.TimeoutException as exc:
            # The far end may have acted on it; retrying risks a duplicate rather than a loss.
            raise DeliveryFailed(f"{where}: timed out ({type(exc).__name__})", retryable=True) from exc
        except httpx.TransportError as exc:
            raise DeliveryFailed(f"{where}: {type(exc).__name__}: {exc}", retryable=True) from exc
        except httpx.InvalidURL as exc:
            raise DeliveryFailed(f"{where}: invalid URL: {exc}", retryable=False) from exc
        status = response.status_code
        if 200 <= status < 300:
            return response
        retryable = status >= 500 or status in _RETRYABLE_STATUSES
        raise DeliveryFailed(
            f"{where}: HTTP {status} {response.reason_phrase}",
            retryable=retryable,
            retry_after=_retry_after(response),
        )


def robot_errcode(response: httpx.Response, where: str) -> tuple[int, str]:
    """The (errcode, errmsg) of a WeCom/DingTalk robot answer; an unreadable answer is a retryable failure."""
    try:
        data = response.json()
        return int(data["errcode"]), str(data.get("errmsg", ""))
    except (ValueError, KeyError, TypeError) as exc:
        # A 200 that is not the robot's JSON (a proxy's page, a cut-off body) tells us
        # nothing about delivery; trying again is the choice that loses nothing.
        raise DeliveryFailed(
            f"{where}: unreadable robot answer: {response.text[:200]!r}", retryable=True
        ) from exc


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        # The HTTP-date form would need the wall clock to interpret; the caller's backoff applies instead.
        return None
