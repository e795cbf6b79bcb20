"""Two real ``tellerwatch serve`` replicas on one PostgreSQL database act as one service.

Done when: an event posted to replica A reaches a live (SSE) subscriber on replica B within 1 s,
also when the record is larger than NOTIFY's 8000-byte payload; five failed logins on A make the
sixth on B a 429; the replicas, started together on an empty database, migrate it once; and when
PostgreSQL drops the live relay's connections (``pg_terminate_backend``, as in a fail-over) the
subscriber is told to reload and live events flow again once the listener has reconnected.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.helpers import JPEG, record, serve_replicas, temporary_pg_database

psycopg = pytest.importorskip("psycopg", reason="psycopg (the postgres extra) is not installed")

KEY = "site-a:scale-out-test-key-0123456789"
HEADERS = {"X-API-Key": KEY.split(":", 1)[1]}
PASSWORD = "scale out password 42"


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], str]]:
    tmp = tmp_path_factory.mktemp("scale_out")
    with temporary_pg_database("tw_scale") as name:
        env = {
            "TELLERWATCH_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
            "TELLERWATCH_SECRET_KEY": "scale-out-test-secret-" + "s" * 40,
            "TELLERWATCH_INGEST_KEYS": KEY,
            "TELLERWATCH_DATA_DIR": str(tmp / "data"),
            "TELLERWATCH_EVIDENCE_DIR": str(tmp / "evidence"),  # one folder both replicas share
            "TELLERWATCH_FORWARDED_ALLOW_IPS": "127.0.0.1",  # as behind a reverse proxy on this host
        }
        with serve_replicas(2, env, users=[("alice", "operator", PASSWORD), ("erin", "engineer", PASSWORD)]) as urls:
            yield urls, name


class Stream:
    """An SSE subscriber in a thread: every (event, data, arrival time) goes into a queue."""

    def __init__(self, url: str, token: str) -> None:
        self.events: queue.Queue[tuple[str, dict[str, Any], float]] = queue.Queue()
        self.connected = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(5, read=60))
        self._url, self._token = url, token
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.connected.wait(10), "live stream did not open"

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "text/event-stream"}
        try:
            with self._client.stream("GET", self._url + "/api/v1/live", headers=headers) as resp:
                event, data = "message", ""
                for line in resp.iter_lines():
                    if line.startswith(": connected"):
                        self.connected.set()
                    elif line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        data = line[6:]
                    elif line == "" and data:
                        self.events.put((event, json.loads(data), time.monotonic()))
                        event, data = "message", ""
        except httpx.HTTPError:
            pass

    def wait_for(self, pred: Any, timeout_s: float) -> tuple[str, dict[str, Any], float]:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching live event in time")
            try:
                item = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if pred(item):
                return item

    def close(self) -> None:
        self._client.close()


def login(url: str, username: str = "alice", password: str = PASSWORD, client: str = "10.0.0.1") -> httpx.Response:
    """Through the (trusted) proxy on loopback, for the client address ``client``."""
    return httpx.post(
        url + "/api/v1/auth/login",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": client},
        timeout=30,
    )


def post(url: str, rec: dict[str, Any]) -> float:
    resp = httpx.post(url + "/api/v1/events", json=rec, headers=HEADERS, timeout=30)
    assert resp.status_code == 201, resp.text
    return time.monotonic()


def test_started_together_they_migrate_the_empty_database_once(replicas: tuple[list[str], str]) -> None:
    """Without the advisory lock around ``upgrade`` the second replica fails on tables the first
    has just created; here both serve, and the schema is at the newest revision."""
    from alembic.script import ScriptDirectory

    from api.db import alembic_config

    urls, name = replicas
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={name}") as conn:
        versions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert versions == [(head,)]
    for url in urls:
        assert httpx.get(url + "/healthz", timeout=10).json()["database"] == "ok"


def test_event_posted_to_one_replica_reaches_a_subscriber_on_the_other(replicas: tuple[list[str], str]) -> None:
    (a, b), _ = replicas
    token = login(b).json()["access_token"]
    stream = Stream(b, token)
    try:
        for rec in (record(), record(details={"note": "x" * 12_000, "min_staff_seen": 1})):
            sent = post(a, rec)
            event, data, arrived = stream.wait_for(lambda e, rid=rec["id"]: e[1].get("id") == rid, 5)
            assert event == "violation"
            assert data["details"] == rec["details"]  # the large one was loaded from the database
            assert arrived - sent < 1.0, f"reached the other replica after {arrived - sent:.2f} s"
        # a review on B reaches a subscriber on A
        stream_a = Stream(a, login(a).json()["access_token"])
        try:
            resp = httpx.patch(
                f"{b}/api/v1/violations/{rec['id']}",
                json={"review_status": "true_positive"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert resp.status_code == 200, resp.text
            _, data, _ = stream_a.wait_for(lambda e: e[1].get("review_status") == "true_positive", 5)
            assert data["id"] == rec["id"]
        finally:
            stream_a.close()
    finally:
        stream.close()


def test_login_limiter_is_shared(replicas: tuple[list[str], str]) -> None:
    (a, b), _ = replicas
    for _ in range(5):
        assert login(a, "bob", "wrong").status_code == 401
    refused = login(b, "bob", "wrong")
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) > 0
    # behind the proxy each client has its own count: another address is not refused
    assert login(b, "bob", "wrong", client="10.0.0.2").status_code == 401


def test_zone_editor_sees_counts_reported_to_another_replica(replicas: tuple[list[str], str]) -> None:
    (a, b), _ = replicas
    post(a, record(camera="counter-9"))
    report = {
        "site": "site-a",
        "camera": "counter-9",
        "interval_s": 5,
        "frames": 125,
        "analysed": 25,
        "zones": {"teller_area": {"persons": 3, "staff": 2, "items": 1}},
        "zones_version": 0,
    }
    resp = httpx.post(a + "/api/v1/metrics/pipeline", json=report, headers=HEADERS, timeout=30)
    assert resp.status_code == 204, resp.text
    token = login(b, "erin").json()["access_token"]
    zones = httpx.get(
        b + "/api/v1/cameras/counter-9/zones", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()
    assert zones["live"] == {"teller_area": {"persons": 3, "staff": 2, "items": 1}}
    assert zones["applied_version"] == 0


def test_camera_status_reported_to_one_replica_is_listed_by_the_other(replicas: tuple[list[str], str]) -> None:
    """The review page's camera list: a camera that only ever reported ``down`` (it never delivered
    a frame) is listed with that status by every replica."""
    (a, b), _ = replicas
    report = {"site": "site-a", "camera": "mute-3", "interval_s": 5, "status": "down"}
    resp = httpx.post(a + "/api/v1/metrics/pipeline", json=report, headers=HEADERS, timeout=30)
    assert resp.status_code == 204, resp.text
    token = login(b, "erin").json()["access_token"]
    cams = httpx.get(
        b + "/api/v1/cameras", params={"reported": "true"}, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()
    listed = {(c["site"], c["camera"]): c["status"] for c in cams}
    assert listed[("site-a", "mute-3")] == "down"


def test_frame_uploaded_to_one_replica_is_served_by_the_other(replicas: tuple[list[str], str]) -> None:
    """Frames and evidence live in the folders the replicas share, not in one process."""
    (a, b), _ = replicas
    resp = httpx.post(
        a + "/api/v1/cameras/counter-7/frame",
        params={"site": "site-a"},
        content=JPEG,
        headers={**HEADERS, "Content-Type": "image/jpeg"},
        timeout=30,
    )
    assert resp.status_code == 204, resp.text
    token = login(b).json()["access_token"]
    got = httpx.get(
        b + "/api/v1/cameras/counter-7/snapshot", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert got.status_code == 200 and got.content == JPEG


def test_live_relay_reconnects_after_its_backend_is_terminated(replicas: tuple[list[str], str]) -> None:
    (a, b), name = replicas
    stream = Stream(b, login(b).json()["access_token"])
    try:
        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={name}", autocommit=True) as conn:
            killed = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND application_name LIKE 'tellerwatch-live-%%'",
                (name,),
            ).fetchall()
            # two replicas, each a listening and a notifying connection
            assert len(killed) == 4 and all(ok for (ok,) in killed)
            # B's subscriber hears that it may have missed changes and should reload
            stream.wait_for(lambda e: e[0] == "dropped", 10)
            deadline = time.monotonic() + 10
            while True:
                listeners = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = %s AND application_name = 'tellerwatch-live-listen'",
                    (name,),
                ).fetchone()
                if listeners and listeners[0] == 2:
                    break
                assert time.monotonic() < deadline, "listeners did not reconnect"
                time.sleep(0.1)
        rec = record()
        sent = post(a, rec)
        _, _, arrived = stream.wait_for(lambda e: e[1].get("id") == rec["id"], 5)
        assert arrived - sent < 1.0
    finally:
        stream.close()


def test_pool_survives_terminated_connections(replicas: tuple[list[str], str]) -> None:
    """A fail-over drops every pooled connection; pre-ping replaces them instead of failing requests."""
    (a, b), name = replicas
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={name}", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
    for url in (a, b):
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200
        post(url, record())


def test_sqlite_keeps_the_in_process_live_stream(app: Any) -> None:
    """SQLite is one box: no relay, no extra connections; PostgreSQL gets the LISTEN/NOTIFY relay."""
    on_pg = app.state.db.engine.dialect.name == "postgresql"
    assert (app.state.live_relay is not None) == on_pg
    assert (app.state.live.relay is not None) == on_pg


@pytest.mark.parametrize(
    ("value", "ok"),
    [("", True), ("127.0.0.1", True), ("10.0.0.5, 10.0.0.0/24, ::1", True), ("*", True), ("nginx-host", False)],
)
def test_trusted_proxy_addresses_are_checked(value: str, ok: bool, tmp_path: Any) -> None:
    from pydantic import ValidationError

    from api.settings import Settings

    if ok:
        assert Settings(env="dev", data_dir=tmp_path, forwarded_allow_ips=value).forwarded_allow_ips == value
    else:
        with pytest.raises(ValidationError, match="not an IP address"):
            Settings(env="dev", data_dir=tmp_path, forwarded_allow_ips=value)
