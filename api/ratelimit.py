"""In-process limiter for failed logins. One API process per deployment (see api/__init__), so a
dictionary is enough; it forgets a key once its window has passed to stay bounded."""

from __future__ import annotations

import threading
import time
from collections import deque


class LoginLimiter:
    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._failures.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._failures[key]
        return q

    def retry_after(self, username: str, ip: str) -> float:
        """Seconds until this username+IP may try again; 0 when it may try now."""
        now = time.monotonic()
        key = (username.casefold(), ip)
        with self._lock:
            q = self._recent(key, now)
            if len(q) < self.max_failures:
                return 0.0
            return max(0.0, q[0] + self.window_s - now)

    def failed(self, username: str, ip: str) -> None:
        now = time.monotonic()
        key = (username.casefold(), ip)
        with self._lock:
            if len(self._failures) > 100_000:  # a flood of distinct names: drop the stale ones
                for k in list(self._failures):
                    self._recent(k, now)
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str, ip: str) -> None:
        with self._lock:
            self._failures.pop((username.casefold(), ip), None)
