"""A token bucket per operator: `rate` calls per second on average, bursts up to one second's worth."""

from __future__ import annotations

import threading
import time


class TokenBuckets:
    """Thread-safe buckets keyed by operator id; `take` returns 0 when allowed, else seconds to wait."""

    def __init__(self, rate: float, *, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._max_keys = max_keys
        self._buckets: dict[int, tuple[float, float]] = {}  # key -> (tokens, last refill, monotonic)
        self._lock = threading.Lock()

    def take(self, key: int) -> float:
        """Spend one token for `key`; 0.0 when allowed, otherwise how long until one is available."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                if len(self._buckets) >= self._max_keys and key not in self._buckets:
                    self._buckets.clear()  # a full table only forgets history: everyone starts with a full bucket
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
