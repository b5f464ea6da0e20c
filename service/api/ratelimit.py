"""Token buckets per client: the rate limiter behind the 429s of the security middleware
(security.py) and the admin-token guard (auth.py).

In process memory, so behind several workers each has its own budget; the client is the
socket's peer, which `erfa serve` makes the user's address only behind a proxy listed in
``ERFA_TRUSTED_PROXIES``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

MAX_CLIENTS = 50_000  # buckets kept in memory; the least recently seen are forgotten first


class RateLimiter:
    """Token buckets per (bucket, client): ``capacity`` at once, refilled at ``per_second``.

    In the event loop only (no lock needed). Bounded: at most MAX_CLIENTS buckets, the
    least recently used dropped first, which at worst forgives an idle client.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_clients: int = MAX_CLIENTS) -> None:
        self._clock = clock
        self._max = max_clients
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()

    def take(self, bucket: str, client: str, per_second: float, capacity: float) -> float:
        """0 when allowed (a token is taken), else seconds until the next token."""
        now = self._clock()
        key = (bucket, client)
        tokens, last = self._buckets.pop(key, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * per_second)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1 - tokens) / per_second
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return wait

    def wait(self, bucket: str, client: str, per_second: float, capacity: float) -> float:
        """Seconds until ``take`` would allow this client once more (0: now); takes nothing."""
        found = self._buckets.get((bucket, client))
        if found is None:
            return 0.0
        tokens = min(capacity, found[0] + (self._clock() - found[1]) * per_second)
        return 0.0 if tokens >= 1 else (1 - tokens) / per_second
