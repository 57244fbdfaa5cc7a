"""A transport that sends nothing and counts: the baseline for the delivery benchmark."""

from __future__ import annotations

import threading

from duban.engine.channels.model import Digest


class NoopTransport:
    """Accepts every digest without rendering or sending it; counts digests and notices."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent = 0
        self.notices = 0

    def send(self, digest: Digest) -> None:
        """Count the digest as sent."""
        # Delivery may run on several threads; the counts must still add up.
        with self._lock:
            self.sent += 1
            self.notices += len(digest.notices)
