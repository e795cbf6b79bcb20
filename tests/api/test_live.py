"""The SSE live stream on a real uvicorn server: what each role receives, and cleanup."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Gauge

from api.live import Broadcaster, LiveMessage
from tests.api.helpers import INGEST_KEY, ThreadServer, ended, record

KEY = {"X-API-Key": INGEST_KEY}


@pytest.fixture(scope="module")
def server(api_app: FastAPI) -> Iterator[ThreadServer]:
    with ThreadServer(api_app) as s:
        yield s


class Listener:
    """Reads an SSE stream in a thread and keeps the parsed events."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.status: int | None = None
        self._ready = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(url, headers), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "stream did not open"

    def _run(self, url: str, headers: dict[str, str]) -> None:
        with httpx.stream("GET", url, headers=headers, timeout=30) as r:
            self.status = r.status_code
            self._ready.set()
            event = "message"
            for line in r.iter_lines():
                if self._stop:
                    return
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    self.events.append((event, json.loads(line[6:])))
                elif line == "":
                    event = "message"

    def wait_for(self, n: int, timeout: float = 10) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.events

    def close(self) -> None:
        self._stop = True  # the heartbeat wakes the reader within live_heartbeat_s


def test_stream_by_role(app: FastAPI, server: ThreadServer, users: Any) -> None:
    url = server.url + "/api/v1/live"
    op = Listener(url, users.headers("operator"))
    head_b = Listener(url, users.headers("bh_b"))
    cam2 = Listener(url + "?camera=counter-2", users.headers("engineer"))
    assert (op.status, head_b.status, cam2.status) == (200, 200, 200)
    time.sleep(0.2)  # subscriptions are registered once the first bytes went out
    a = record(site="site-a")
    b = record(site="site-b", camera="counter-2")
    with httpx.Client(base_url=server.url) as c:
        assert c.post("/api/v1/events", json=a, headers=KEY).status_code == 201
        assert c.post("/api/v1/events", json=b, headers=KEY).status_code == 201
        assert c.post("/api/v1/events", json=a, headers=KEY).json()["result"] == "unchanged"  # not broadcast
        assert c.post("/api/v1/events", json=ended(a), headers=KEY).status_code == 200
        r = c.patch(
            f"/api/v1/violations/{b['id']}",
            json={"review_status": "true_positive"},
            headers=users.headers("bh_b"),
        )
        assert r.status_code == 200
    seen = [(e, d["id"], d["state"], d["review_status"]) for e, d in op.wait_for(4)]
    assert seen == [
        ("violation", a["id"], "open", "unreviewed"),
        ("violation", b["id"], "open", "unreviewed"),
        ("violation", a["id"], "ended", "unreviewed"),
        ("violation", b["id"], "open", "true_positive"),
    ]
    assert [d["id"] for _, d in head_b.wait_for(2)] == [b["id"], b["id"]]
    assert [d["id"] for _, d in cam2.wait_for(2)] == [b["id"], b["id"]]
    time.sleep(0.3)
    assert len(head_b.events) == 2 and len(cam2.events) == 2, "a stream got another site's or camera's events"
    for listener in (op, head_b, cam2):
        listener.close()


def test_closed_streams_unsubscribe(app: FastAPI, server: ThreadServer, users: Any) -> None:
    time.sleep(1.0)  # streams of earlier tests notice their clients left within a heartbeat
    before = app.state.live.subscribers
    with httpx.stream("GET", server.url + "/api/v1/live", headers=users.headers("operator"), timeout=10) as r:
        lines = r.iter_lines()  # keep a reference: a collected line iterator closes the response
        assert next(lines) == "retry: 3000"
        deadline = time.monotonic() + 5
        while app.state.live.subscribers <= before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert app.state.live.subscribers == before + 1
    deadline = time.monotonic() + 5
    while app.state.live.subscribers > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.state.live.subscribers == before


def test_slow_subscriber_loses_oldest_and_is_told() -> None:
    registry = CollectorRegistry()
    dropped = Counter("d", "d", registry=registry)
    b = Broadcaster(2, Gauge("g", "g", registry=registry), dropped)

    async def scenario() -> list[str]:
        sub = b.subscribe(None, None)
        for i in range(5):
            b.publish(LiveMessage("s", "c", "violation", {"id": str(i)}))
        await asyncio.sleep(0.05)
        got = [sub.queue.get_nowait().data["id"] for _ in range(sub.queue.qsize())]
        assert sub.take_dropped() == 3
        sub.dropped = 3
        b.unsubscribe(sub)
        return got

    # on a thread of its own: a browser test earlier in the session may leave a loop running here
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, scenario()).result() == ["3", "4"]
    assert registry.get_sample_value("d_total") == 3
    assert b.subscribers == 0
