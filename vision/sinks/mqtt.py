"""MQTT publishing, laid out the way Frigate does it so existing automations feel at home.

- ``<prefix>/<site>/<camera>/violations``: the violation record (JSON) on every change.
- ``<prefix>/<site>/<camera>/<zone>/staff``: the staff count in a zone (a bare integer), retained
  so a dashboard that connects later sees the current value at once.

paho-mqtt's network thread connects, and reconnects after a broker restart, on its own. While the
broker is away, QoS 1/2 messages wait in paho's queue (bounded; overflow is counted and logged),
QoS 0 messages are dropped (counted), and zone counts are re-sent on every reconnect.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from vision.config import MqttSinkConfig
from vision.errors import ConfigError
from vision.events import Violation

log = logging.getLogger(__name__)

MAX_QUEUED = 10_000
_BAD_LEVEL = set("+#/\x00")


def topic_level(value: str, what: str) -> str:
    if not value or _BAD_LEVEL & set(value):
        raise ValueError(f"{what} {value!r} cannot be an MQTT topic level (no '/', '+', '#', or empty)")
    return value


class MqttSink:
    def __init__(self, cfg: MqttSinkConfig, *, client_id: str | None = None) -> None:
        self.cfg = cfg
        self.prefix = cfg.topic_prefix.strip("/")
        if not self.prefix or set("+#\x00") & set(self.prefix):
            raise ValueError(f"topic_prefix {cfg.topic_prefix!r} is not a usable MQTT topic prefix")
        self.stats = {"published": 0, "dropped": 0, "connects": 0}
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}  # topic -> last staff count
        self._outstanding: set[int] = set()  # mids of QoS 1/2 messages not yet acknowledged
        self._acked: set[int] = set()
        self._connected = threading.Event()
        self._closing = False
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"tellerwatch-{uuid.uuid4().hex[:12]}",
            protocol=mqtt.MQTTv311,
        )
        if cfg.username:
            password = None
            if cfg.password_env:
                password = os.environ.get(cfg.password_env)
                if password is None:
                    raise ConfigError(f"sinks.mqtt: the environment variable {cfg.password_env} is not set")
            client.username_pw_set(cfg.username, password)
        client.max_queued_messages_set(MAX_QUEUED)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client
        client.connect_async(cfg.host, cfg.port, keepalive=30)
        client.loop_start()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # ------------------------------------------------------------------ paho callbacks (network thread)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.error("MQTT broker %s:%d refused the connection: %s", self.cfg.host, self.cfg.port, reason)
            return
        self.stats["connects"] += 1
        self._connected.set()
        log.info("MQTT connected to %s:%d", self.cfg.host, self.cfg.port)
        with self._lock:
            retained = dict(self._counts)
        for topic, count in retained.items():  # a restarted broker may have lost them
            self._send(topic, str(count), retain=True)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._connected.clear()
        if self._closing:
            return
        log.warning("MQTT connection to %s:%d lost (%s); reconnecting", self.cfg.host, self.cfg.port, reason)

    # ------------------------------------------------------------------ publishing

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        # no lock here: paho calls this holding its own message lock, which _send needs too
        self._acked.add(mid)

    def _send(self, topic: str, payload: str | bytes, retain: bool) -> None:
        info = self._client.publish(topic, payload, qos=self.cfg.qos, retain=retain)
        # paho keeps a QoS 1/2 message it could not send yet and sends it after (re)connecting
        queued = info.rc == mqtt.MQTT_ERR_NO_CONN and self.cfg.qos > 0
        if info.rc == mqtt.MQTT_ERR_SUCCESS or queued:
            self.stats["published"] += 1
            if self.cfg.qos > 0:
                with self._lock:
                    self._outstanding.add(info.mid)
                if len(self._acked) > 1024:  # mids wrap at 65535: never let an old ack match a new one
                    self._unacknowledged()
            return
        self.stats["dropped"] += 1
        reason = "queue full" if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE else mqtt.error_string(info.rc)
        log.warning("MQTT message to %s dropped (QoS %d): %s", topic, self.cfg.qos, reason)

    def _unacknowledged(self) -> int:
        with self._lock:
            acked = set(self._acked)
            self._acked -= acked
            self._outstanding -= acked
            return len(self._outstanding)

    def publish(self, violation: Violation, evidence: dict[str, Path] | None = None) -> None:
        topic = (
            f"{self.prefix}/{topic_level(violation.site, 'site')}/{topic_level(violation.camera, 'camera')}/violations"
        )
        payload = json.dumps(violation.to_json_dict(), ensure_ascii=False, separators=(",", ":"))
        self._send(topic, payload.encode("utf-8"), retain=False)

    def publish_zone_counts(self, site: str, camera: str, counts: dict[str, int]) -> None:
        base = f"{self.prefix}/{topic_level(site, 'site')}/{topic_level(camera, 'camera')}"
        for zone, count in counts.items():
            topic = f"{base}/{topic_level(zone, 'zone')}/staff"
            value = int(count)
            with self._lock:
                if self._counts.get(topic) == value:
                    continue
                self._counts[topic] = value
            self._send(topic, str(value), retain=True)

    def flush(self, timeout: float) -> bool:
        """Wait for the broker to acknowledge every QoS 1/2 message sent so far."""
        deadline = time.monotonic() + timeout
        while self._unacknowledged():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        self.flush(timeout=2.0)
        self._closing = True
        self._client.disconnect()
        self._client.loop_stop()
