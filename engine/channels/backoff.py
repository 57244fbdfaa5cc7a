"""How long to wait before retrying a failed delivery: capped exponential backoff with full jitter."""

from __future__ import annotations

import random

# 2**64 is far past any sensible cap; stopping the exponent there avoids float overflow.
_MAX_EXPONENT = 64


def backoff_delay(attempt: int, base_seconds: float, cap_seconds: float, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 = the first try failed).

    Full jitter: the delay is drawn uniformly from [0, min(cap, base * 2**(attempt-1))].
    Drawing over the whole range (rather than adding a little noise to a fixed delay)
    spreads out the retries of many digests that failed together, e.g. when a robot
    rate-limits a whole sweep, so they do not hit the far end again in lockstep.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1 (the first attempt that failed)")
    if base_seconds < 0 or cap_seconds < 0:
        raise ValueError("base_seconds and cap_seconds must not be negative")
    ceiling = min(cap_seconds, base_seconds * 2.0 ** min(attempt - 1, _MAX_EXPONENT))
    return rng.uniform(0.0, ceiling)
