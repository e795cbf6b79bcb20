"""Sinks: where violations go besides the JSONL file — the API (durable outbox) and MQTT."""

from __future__ import annotations

from pathlib import Path

from vision.config import SinksConfig
from vision.sinks.base import Sink
from vision.sinks.http import HttpSink, Outbox
from vision.sinks.mqtt import MqttSink

__all__ = ["HttpSink", "MqttSink", "Outbox", "Sink", "build_sinks"]


def build_sinks(cfg: SinksConfig, data_dir: str | Path) -> list[Sink]:
    """The sinks a config asks for; the outbox lives in ``data_dir`` so it survives restarts.

    Raises ``ConfigError`` when the API key's environment variable is not set.
    """
    sinks: list[Sink] = []
    if cfg.api is not None:
        sinks.append(HttpSink(cfg.api, Path(data_dir)))
    if cfg.mqtt is not None:
        try:
            sinks.append(MqttSink(cfg.mqtt))
        except BaseException:
            for s in sinks:
                s.close()
            raise
    return sinks
