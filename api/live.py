"""Fan-out of violation changes to live-stream subscribers: in-process, plus a relay to the other
replicas on PostgreSQL (``api.fanout``).

Handlers that write run in worker threads, subscribers wait on asyncio queues in the event loop,
so publishing hops threads with ``call_soon_threadsafe``. Each queue is bounded: a subscriber that
cannot keep up loses its oldest messages and is told how many, rather than growing without limit.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import Counter, Gauge

if TYPE_CHECKING:
    from api.db import Database


@dataclass(slots=True)
class LiveMessage:
    site: str
    camera: str
    event: str
    data: dict[str, Any]


GAP = LiveMessage("", "", "gap", {})  # wakes a stream so that it reports a gap at once


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

    def mark_gap(self) -> None:
        # runs in the subscriber's loop; the stream sends 'dropped' at once
        self.dropped += 1
        if not self.queue.full():
            self.queue.put_nowait(GAP)

    def take_dropped(self) -> int:
        n, self.dropped = self.dropped, 0
        return n


class Relay(Protocol):
    """Carries this replica's messages to the other replicas (``api.fanout.PgRelay``)."""

    def start(self) -> None: ...

    def stop(self, timeout_s: float = 3.0) -> None: ...

    def send(self, msg: LiveMessage) -> None: ...


class Broadcaster:
    def __init__(self, queue_size: int, subscribers_gauge: Gauge, dropped_counter: Counter) -> None:
        self.queue_size = queue_size
        self.relay: Relay | None = None  # None: one process (SQLite), in-process fan-out only
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._gauge = subscribers_gauge
        self._dropped = dropped_counter

    def subscribe(self, site: str | None, camera: str | None) -> Subscription:
        if self.relay is not None:
            self.relay.start()
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
        """A change made here: to this process's subscribers and, through the relay, to the other
        replicas'. Safe to call from any thread; never blocks."""
        self.deliver(msg)
        if self.relay is not None:
            self.relay.send(msg)

    def deliver(self, msg: LiveMessage) -> None:
        """To this process's subscribers only. Safe to call from any thread."""
        with self._lock:
            targets = [s for s in self._subs if s.wants(msg)]
        for sub in targets:
            try:
                sub.loop.call_soon_threadsafe(sub._put, msg)
            except RuntimeError:  # that subscriber's loop has closed; it is going away
                self.unsubscribe(sub)

    def announce_gap(self) -> None:
        """Messages may have been lost (the relay reconnected): every subscriber gets a
        ``dropped`` event so that it reloads."""
        with self._lock:
            targets = list(self._subs)
        for sub in targets:
            try:
                sub.loop.call_soon_threadsafe(sub.mark_gap)
            except RuntimeError:
                self.unsubscribe(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)


def attach_relay(db: Database, broadcaster: Broadcaster) -> Relay | None:
    """On PostgreSQL, replicas share the live stream through LISTEN/NOTIFY (``api.fanout``);
    SQLite is one box, and its fan-out stays in-process."""
    if db.engine.dialect.name != "postgresql":
        return None
    from api.fanout import PgRelay, libpq_dsn, violation_loader

    url = db.engine.url.render_as_string(hide_password=False)
    broadcaster.relay = PgRelay(libpq_dsn(url), broadcaster, violation_loader(db))
    return broadcaster.relay
