"""In-process fan-out of violation changes to live-stream subscribers.

Handlers that write run in worker threads, subscribers wait on asyncio queues in the event loop,
so publishing hops threads with ``call_soon_threadsafe``. Each queue is bounded: a subscriber that
cannot keep up loses its oldest messages and is told how many, rather than growing without limit.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge


@dataclass(slots=True)
class LiveMessage:
    site: str
    camera: str
    event: str
    data: dict[str, Any]


@dataclass(eq=False)
class Subscription:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[LiveMessage]
    site: str | None  # None: every site
    camera: str | None
    dropped: int = 0

    def wants(self, msg: LiveMessage) -> bool:
        return (self.site is None or self.site == msg.site) and (
            self.camera is None or self.camera == msg.camera
        )

    def _put(self, msg: LiveMessage) -> None:
        # runs in the subscriber's loop
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(msg)

    def take_dropped(self) -> int:
        n, self.dropped = self.dropped, 0
        return n


class Broadcaster:
    def __init__(self, queue_size: int, subscribers_gauge: Gauge, dropped_counter: Counter) -> None:
        self.queue_size = queue_size
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._gauge = subscribers_gauge
        self._dropped = dropped_counter

    def subscribe(self, site: str | None, camera: str | None) -> Subscription:
        sub = Subscription(asyncio.get_running_loop(), asyncio.Queue(self.queue_size), site, camera)
        with self._lock:
            self._subs.add(sub)
            self._gauge.set(len(self._subs))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)
            self._gauge.set(len(self._subs))
        if sub.dropped:
            self._dropped.inc(sub.dropped)

    def publish(self, msg: LiveMessage) -> None:
        """Safe to call from any thread."""
        with self._lock:
            targets = [s for s in self._subs if s.wants(msg)]
        for sub in targets:
            try:
                sub.loop.call_soon_threadsafe(sub._put, msg)
            except RuntimeError:  # that subscriber's loop has closed; it is going away
                self.unsubscribe(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)
