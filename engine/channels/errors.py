"""The one error a transport raises: a delivery that did not happen, and whether to try again."""

from __future__ import annotations

from duban.engine.errors import DubanError


class DeliveryFailed(DubanError):
    """A notification could not be delivered; `retryable` says whether a later attempt may succeed."""

    status = 502
    title = "Delivery failed"

    def __init__(self, message: str, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        # Seconds the far end asked us to wait (HTTP Retry-After); the caller's
        # backoff should not retry sooner than this.
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"DeliveryFailed({self.message!r}, retryable={self.retryable})"
