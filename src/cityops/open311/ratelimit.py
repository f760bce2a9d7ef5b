"""An in-process token bucket per client (api key or IP address).

Each worker process keeps its own buckets, so N workers allow up to N times the rate; a
deployment with several workers either divides the rates by N or limits at the reverse proxy
(documented in docs/open311.md).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Requests per minute and burst size, per IP address (every route) and per api key (POST)."""

    ip_per_minute: float = 120.0
    ip_burst: int = 60
    key_per_minute: float = 60.0
    key_burst: int = 20


class TokenBucket:
    """``burst`` tokens refilled at ``per_minute``; each request takes one."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 50_000,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> float | None:
        """None when allowed; otherwise the seconds until a token is free."""
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[client] = (tokens, now)
            # Forget the least recently seen clients so a scan of many addresses cannot
            # exhaust memory; a forgotten client simply starts with a full bucket.
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            if allowed:
                return None
            return (1.0 - tokens) / self.rate if self.rate > 0 else 60.0


class RateLimiter:
    """The two buckets Open311 uses, built from ``Limits``."""

    def __init__(self, limits: Limits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.by_ip = TokenBucket(limits.ip_per_minute, limits.ip_burst, clock=clock)
        self.by_key = TokenBucket(limits.key_per_minute, limits.key_burst, clock=clock)
