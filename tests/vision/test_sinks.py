"""Sinks against real services: the API on a loopback port (SQLite) and the local Mosquitto.

The outbox tests break the API the way the field does (nothing listening, a restart of the sink,
a SIGKILLed pipeline) and check that every violation arrives, in its final state, exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.models import Violation as ViolationRow
from api.settings import Settings
from tests.api.helpers import INGEST_KEY, JPEG, MP4, ThreadServer, ended, free_port, record
from vision.config import ApiSinkConfig, MqttSinkConfig, SinksConfig
from vision.errors import ConfigError
from vision.events import Violation
from vision.sinks import HttpSink, MqttSink, Outbox, Sink, build_sinks
from vision.sinks.http import fingerprint

ROOT = Path(__file__).resolve().parents[2]
KEY_ENV = "TW_TEST_SINK_KEY"
BROKER = ("127.0.0.1", 1883)


def violation(**overrides: Any) -> Violation:
    return Violation.model_validate(record(**overrides))


# --------------------------------------------------------------------------- outbox units


def test_outbox_keeps_only_the_newest_state(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite3")
    rec = record()
    assert box.put(rec, {}, fingerprint(rec, {}))
    done = ended(rec)
    assert box.put(done, {}, fingerprint(done, {}))
    assert box.pending_count() == 1
    item = box.next_due(time.time())
    assert item is not None and item.record["state"] == "ended"
    box.delivered(item, fingerprint(done, {}))
    assert box.pending_count() == 0
    assert not box.put(done, {}, fingerprint(done, {})), "an exact re-publish of a delivered state is skipped"
    again = {**done, "duration_s": 12.0}
    assert box.put(again, {}, fingerprint(again, {}))
    box.close()


def test_outbox_in_flight_row_superseded(tmp_path: Path) -> None:
    """A state published while an older one is being sent must survive that send's acknowledgement."""
    box = Outbox(tmp_path / "outbox.sqlite3")
    rec = record()
    box.put(rec, {}, fingerprint(rec, {}))
    in_flight = box.next_due(time.time())
    assert in_flight is not None
    done = ended(rec)
    box.put(done, {}, fingerprint(done, {}))
    box.delivered(in_flight, fingerprint(rec, {}))
    left = box.next_due(time.time())
    assert box.pending_count() == 1 and left is not None and left.record["state"] == "ended"
    box.close()


def test_outbox_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    recs = [record() for _ in range(3)]
    for r in recs:
        box.put(r, {"snapshot": "/x.jpg"}, fingerprint(r, {}))
    box.close()
    box = Outbox(path)
    items = []
    while (item := box.next_due(time.time())) is not None:
        items.append(item)
        box.delivered(item, "fp")
    assert [i.id for i in items] == [r["id"] for r in recs] and items[0].evidence == {"snapshot": "/x.jpg"}
    box.close()


def test_backoff_doubles_with_jitter_and_caps_at_60(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, INGEST_KEY)
    sink = HttpSink(ApiSinkConfig(url="http://127.0.0.1:9", key_env=KEY_ENV), tmp_path, start=False)
    delays = [sink._backoff() for _ in range(12)]
    assert 0.25 <= delays[0] <= 0.5
    assert 0.5 <= delays[1] <= 1.0
    assert max(delays) <= 60 and delays[-1] >= 30
    assert sink._backoff(retry_after=500) == 60
    sink.close()


# --------------------------------------------------------------------------- HTTP sink against the real API


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FastAPI]:
    settings = Settings(
        env="dev",
        data_dir=tmp_path / "api",
        ingest_keys=INGEST_KEY,
        argon2_time_cost=1,
        argon2_memory_kib=64,
        argon2_parallelism=1,
    )
    app = create_app(settings)
    yield app
    app.state.db.dispose()


def sink_for(port: int, data_dir: Path, **kw: Any) -> HttpSink:
    cfg = ApiSinkConfig(url=f"http://127.0.0.1:{port}", key_env=KEY_ENV, timeout_s=2)
    return HttpSink(cfg, data_dir, backoff_initial_s=0.05, backoff_max_s=0.3, **kw)


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, INGEST_KEY)


def stored(app: FastAPI) -> dict[str, tuple[str, float]]:
    with app.state.db.session() as s:
        return {v.id: (v.state, v.duration_s) for v in s.query(ViolationRow).all()}


def ingest_count(app: FastAPI, result: str) -> float:
    value = app.state.metrics.registry.get_sample_value("tellerwatch_ingest_events_total", {"result": result})
    return float(value or 0)


def test_api_down_then_up_delivers_each_once(api: FastAPI, data_dir: Path, key_env: None) -> None:
    port = free_port()  # nothing listens here yet
    sink = sink_for(port, data_dir)
    vs = [violation() for _ in range(3)]
    for v in vs:
        sink.publish(v)
    final = Violation.model_validate(ended(vs[0].to_json_dict()))
    sink.publish(final)  # supersedes the undelivered open state
    time.sleep(0.5)
    assert sink.pending() == 3 and sink.stats["retries"] >= 1 and sink.stats["sent"] == 0
    with ThreadServer(api, port):
        assert sink.flush(15)
        sink.close()
    assert stored(api) == {vs[0].id: ("ended", 11.6), vs[1].id: ("open", 5.0), vs[2].id: ("open", 5.0)}
    assert ingest_count(api, "created") == 3 and ingest_count(api, "updated") == 0


def test_restarted_sink_delivers_what_the_old_one_left(api: FastAPI, data_dir: Path, key_env: None) -> None:
    port = free_port()
    first = sink_for(port, data_dir)
    vs = [violation() for _ in range(5)]
    for v in vs:
        first.publish(v)
    first.close()  # the pipeline stops while the API is down
    with ThreadServer(api, port):
        second = sink_for(port, data_dir)
        assert second.flush(15)
        # the next run publishes the same final states again: nothing new goes out
        for v in vs:
            second.publish(v)
        assert second.pending() == 0 and second.stats["skipped"] == 5
        second.close()
    assert set(stored(api)) == {v.id for v in vs}
    assert ingest_count(api, "created") == 5 and ingest_count(api, "unchanged") == 0


def test_sink_restarted_mid_delivery_is_still_exactly_once(api: FastAPI, data_dir: Path, key_env: None) -> None:
    with ThreadServer(api) as server:
        first = sink_for(server.port, data_dir)
        vs = [violation() for _ in range(30)]
        for v in vs:
            first.publish(v)
        time.sleep(0.05)
        first.close()  # stops between sends
        sent_by_first = first.stats["sent"]
        second = sink_for(server.port, data_dir)
        assert second.flush(20)
        second.close()
    assert set(stored(api)) == {v.id for v in vs}
    assert ingest_count(api, "created") == 30
    # a row sent but not yet forgotten is re-sent once and acknowledged as 'unchanged', never doubled
    assert ingest_count(api, "unchanged") <= 1
    assert 0 <= sent_by_first <= 30


KILL_SCRIPT = """
import sys, time
from vision.config import ApiSinkConfig
from vision.events import Violation
from vision.sinks import HttpSink
from tests.api.helpers import record
sink = HttpSink(ApiSinkConfig(url=sys.argv[1], key_env="{key_env}"), sys.argv[2], backoff_initial_s=0.05,
                backoff_max_s=0.2)
ids = []
for i in range(int(sys.argv[3])):
    v = Violation.model_validate(record(duration_s=float(i)))
    sink.publish(v)
    ids.append(v.id)
print(" ".join(ids), flush=True)
time.sleep(60)
"""


def test_sigkilled_pipeline_loses_nothing(api: FastAPI, data_dir: Path, key_env: None) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILL_SCRIPT.format(key_env=KEY_ENV),
            f"http://127.0.0.1:{port}",
            str(data_dir),
            "8",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ids = proc.stdout.readline().split()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert len(ids) == 8
    with ThreadServer(api, port):
        sink = sink_for(port, data_dir)
        assert sink.flush(15)
        sink.close()
    assert set(stored(api)) == set(ids)
    assert ingest_count(api, "created") == 8


def test_evidence_is_uploaded(api: FastAPI, data_dir: Path, tmp_path: Path, key_env: None) -> None:
    snap, clip = tmp_path / "snap.jpg", tmp_path / "clip.mp4"
    snap.write_bytes(JPEG)
    clip.write_bytes(MP4)
    v = violation()
    v = v.model_copy(update={"snapshot": f"evidence/counter-1/{v.id}.jpg"})  # where the pipeline writes it
    with ThreadServer(api) as server:
        sink = sink_for(server.port, data_dir)
        sink.publish(v, {"snapshot": snap})
        done = Violation.model_validate(ended(v.to_json_dict()))
        sink.publish(done, {"snapshot": snap, "clip": clip})  # the clip is ready once the post-roll is written
        assert sink.flush(10)
        sink.close()
    evidence = api.state.settings.evidence_path / "counter-1"
    assert (evidence / f"{v.id}.jpg").read_bytes() == JPEG
    assert (evidence / f"{v.id}.mp4").read_bytes() == MP4
    with api.state.db.session() as s:
        row = s.get(ViolationRow, v.id)
        assert row is not None and row.state == "ended" and row.clip == f"counter-1/{v.id}.mp4"


def test_rejected_record_is_parked_and_does_not_block(api: FastAPI, data_dir: Path, key_env: None) -> None:
    bad = violation(camera="cam/with/slashes")  # valid for the pipeline model, refused (422) by the API
    good = violation()
    with ThreadServer(api) as server:
        sink = sink_for(server.port, data_dir)
        sink.publish(bad)
        sink.publish(good)
        assert sink.flush(10)
        assert sink.outbox.dead_count() == 1 and sink.stats["dead"] == 1
        sink.close()
    assert set(stored(api)) == {good.id}


def test_wrong_key_keeps_events_until_fixed(api: FastAPI, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A misconfigured key is an operator's mistake to fix, not a reason to throw violations away."""
    monkeypatch.setenv(KEY_ENV, "not-the-right-key-0000000000")
    with ThreadServer(api) as server:
        sink = sink_for(server.port, data_dir)
        sink.publish(violation())
        assert not sink.flush(0.5) and sink.pending() == 1
        sink.close()
        monkeypatch.setenv(KEY_ENV, INGEST_KEY)
        fixed = sink_for(server.port, data_dir)
        assert fixed.flush(10)
        fixed.close()
    assert len(stored(api)) == 1


def test_best_effort_metrics_and_frames(api: FastAPI, data_dir: Path, key_env: None) -> None:
    report = {"site": "site-a", "camera": "counter-1", "interval_s": 5, "analysed": 25, "stages": {"detect": [0.02]}}
    down = sink_for(free_port(), data_dir, start=False)
    assert down.post_metrics(report) is False  # no exception, nothing queued
    down.close()
    with ThreadServer(api) as server:
        sink = sink_for(server.port, data_dir, start=False)
        assert sink.post_metrics(report)
        assert sink.post_frame("site-a", "counter-1", JPEG)
        assert not sink.post_frame("site-a", "counter-1", b"not a jpeg")
        sink.close()
    fps = api.state.metrics.registry.get_sample_value(
        "tellerwatch_camera_fps", {"site": "site-a", "camera": "counter-1"}
    )
    assert fps == 5.0
    assert (api.state.settings.frames_path / "site-a" / "counter-1.jpg").read_bytes() == JPEG


def test_build_sinks(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = SinksConfig(
        api=ApiSinkConfig(url="http://127.0.0.1:9", key_env=KEY_ENV),
        mqtt=MqttSinkConfig(topic_prefix=f"tw-test-{uuid.uuid4().hex[:6]}"),
    )
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ConfigError, match=KEY_ENV):
        build_sinks(cfg, data_dir)
    monkeypatch.setenv(KEY_ENV, INGEST_KEY)
    sinks = build_sinks(cfg, data_dir)
    try:
        assert [type(s) for s in sinks] == [HttpSink, MqttSink]
        assert all(isinstance(s, Sink) for s in sinks)
        assert (data_dir / "outbox.sqlite3").is_file()
    finally:
        for s in sinks:
            s.close()
    assert build_sinks(SinksConfig(), data_dir) == []


# --------------------------------------------------------------------------- MQTT against Mosquitto


def broker_up() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=2):
            return True
    except OSError:
        return False


needs_broker = pytest.mark.skipif(not broker_up(), reason="no MQTT broker on 127.0.0.1:1883")


class Subscriber:
    def __init__(self, topic: str, port: int = BROKER[1]) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"tw-test-sub-{uuid.uuid4().hex[:8]}")
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, bytes(m.payload), bool(m.retain)))
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.connect(BROKER[0], port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "subscription not acknowledged"

    def wait(self, n: int, timeout: float = 10) -> list[tuple[str, bytes, bool]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def prefix() -> Iterator[str]:
    p = f"tw-test-{uuid.uuid4().hex[:8]}"
    yield p
    # clear retained zone counts so the broker does not keep test topics
    sub = Subscriber(f"{p}/#")
    time.sleep(0.3)
    for topic, _, retained in list(sub.messages):
        if retained:
            sub.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    sub.close()


@needs_broker
def test_mqtt_topics_and_payloads(prefix: str) -> None:
    sub = Subscriber(f"{prefix}/#")
    sink = MqttSink(MqttSinkConfig(topic_prefix=prefix, qos=1))
    assert sink.wait_connected(10)
    v = violation(details={"说明": "双人临柜"})
    sink.publish(v)
    sink.publish_zone_counts("site-a", "counter-1", {"teller_area": 2, "counter_top": 0})
    sink.publish_zone_counts("site-a", "counter-1", {"teller_area": 2, "counter_top": 0})  # unchanged: not sent
    sink.publish_zone_counts("site-a", "counter-1", {"teller_area": 1, "counter_top": 0})
    assert sink.flush(10)
    got = sub.wait(4)
    time.sleep(0.3)
    assert [(t, p) for t, p, _ in sub.messages] == [
        (
            f"{prefix}/site-a/counter-1/violations",
            json.dumps(v.to_json_dict(), ensure_ascii=False, separators=(",", ":")).encode(),
        ),
        (f"{prefix}/site-a/counter-1/teller_area/staff", b"2"),
        (f"{prefix}/site-a/counter-1/counter_top/staff", b"0"),
        (f"{prefix}/site-a/counter-1/teller_area/staff", b"1"),
    ], got
    assert json.loads(sub.messages[0][1])["details"] == {"说明": "双人临柜"}
    sub.close()
    # a dashboard connecting later gets the current staff counts at once (retained)
    late = Subscriber(f"{prefix}/+/+/+/staff")
    retained = {t: (p, r) for t, p, r in late.wait(2)}
    assert retained == {
        f"{prefix}/site-a/counter-1/teller_area/staff": (b"1", True),
        f"{prefix}/site-a/counter-1/counter_top/staff": (b"0", True),
    }
    late.close()
    sink.close()


@needs_broker
def test_mqtt_refuses_topic_breaking_names(prefix: str) -> None:
    sink = MqttSink(MqttSinkConfig(topic_prefix=prefix))
    try:
        with pytest.raises(ValueError, match="zone"):
            sink.publish_zone_counts("site-a", "cam", {"a/b": 1})
        with pytest.raises(ValueError, match="camera"):
            sink.publish(violation(camera="cam+1"))
    finally:
        sink.close()
    with pytest.raises(ValueError, match="topic_prefix"):
        MqttSink(MqttSinkConfig(topic_prefix="tw/#"))


class TcpProxy:
    """Forwards a loopback port to the broker; stopping it is a broker outage as the sink sees it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._socks: list[socket.socket] = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(BROKER)
            self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self._listener.close()
        for s in self._socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


@needs_broker
def test_mqtt_survives_broker_outage(prefix: str) -> None:
    port = free_port()
    sub = Subscriber(f"{prefix}/#")
    sink = MqttSink(MqttSinkConfig(port=port, topic_prefix=prefix, qos=1))  # broker not reachable yet
    first = violation()
    sink.publish(first)  # queued until the first connection
    proxy = TcpProxy(port)
    assert sink.wait_connected(15)
    sink.publish_zone_counts("site-a", "counter-1", {"teller_area": 2})
    assert sink.flush(10)
    proxy.stop()
    deadline = time.monotonic() + 10
    while sink.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sink.connected
    during = violation()
    sink.publish(during)  # QoS 1: held by paho while the broker is away
    proxy = TcpProxy(port)
    assert sink.wait_connected(20), "the sink did not reconnect by itself"
    assert sink.flush(10)
    seen = sub.wait(4, timeout=10)
    ids = [json.loads(p)["id"] for t, p, _ in seen if t.endswith("/violations")]
    assert ids == [first.id, during.id]
    staff = [p for t, p, _ in seen if t.endswith("/staff")]
    assert staff and set(staff) == {b"2"}  # sent, and re-sent after the reconnect
    assert sink.stats["connects"] >= 2 and sink.stats["dropped"] == 0
    sink.close()
    proxy.stop()
    sub.close()
