"""How fast one conversation may write: a token bucket per conversation, in bounded memory.

One person flooding Lotse must not slow down everyone else, so messages beyond the limit are
refused before the lock, the database and the engine. The first refusal says so (with the
emergency numbers: no one in danger is left with silence); the rest are dropped silently.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    ALLOW = "allow"
    NOTICE = "notice"
    """Refused; tell the sender once."""
    DROP = "drop"
    """Refused; the sender was told already."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float
    noticed: bool = False


class RateLimit:
    """`burst` messages at once, then `per_second` on average, per conversation key, on a
    monotonic clock (a rate is real time). At most `tracked` keys are remembered, so a flood
    from many keys cannot grow memory without bound; a forgotten bucket starts full."""

    def __init__(self, burst: int = 30, per_second: float = 1.0, tracked: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if burst < 1 or per_second <= 0:
            raise ValueError("burst must be at least 1 and per_second above 0")
        self.burst = burst
        self.per_second = per_second
        self.tracked = tracked
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def check(self, key: str) -> Verdict:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            if len(self._buckets) > self.tracked:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(self.burst),
                                bucket.tokens + (now - bucket.at) * self.per_second)
            bucket.at = now
            if bucket.tokens >= self.burst:
                bucket.noticed = False  # quiet for a while: a new flood gets a new notice
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Verdict.ALLOW
        if bucket.noticed:
            return Verdict.DROP
        bucket.noticed = True
        return Verdict.NOTICE

    def __len__(self) -> int:
        return len(self._buckets)
