"""Camera status (vision.health) on a fake clock, the status reporter against a fake sink, and the
outbox's backoff across a pipeline restart against the real API."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from api.app import create_app
from api.settings import Settings
from tests.api.helpers import INGEST_KEY, ThreadServer, record
from vision.config import ApiSinkConfig, CameraConfig
from vision.events import Violation
from vision.frames import Frame, SourceGap
from vision.health import CameraStatus, HealthMonitor, StatusReporter
from vision.pipeline import ZoneCount
from vision.sinks import HttpSink

FRAME = Frame("cam", 0, 0.0, datetime(2026, 11, 26, 9, 0), np.zeros((4, 4, 3), np.uint8))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def monitor(clock: Clock, fps: float = 5.0) -> HealthMonitor:
    cam = CameraConfig.model_validate({"id": "cam", "source": "rtsp://127.0.0.1/x", "analysis_fps": fps},
                                      context={"check_files": False})
    return HealthMonitor("site-a", [cam], down_after_s=30, clock=clock)


# (steps: (advance_s, event)), expected status at the end
@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([], CameraStatus.reconnecting),  # opening, no frame yet
        ([(29.0, "waiting")], CameraStatus.reconnecting),
        ([(31.0, "waiting")], CameraStatus.down),  # never delivered
        ([(0, "waiting"), (0.1, "frame")], CameraStatus.up),  # busy analysing it
        ([(0, "frame"), (0, "waiting"), (1.9, None)], CameraStatus.up),
        ([(0, "frame"), (0, "waiting"), (2.1, None)], CameraStatus.reconnecting),  # 5 slots at 5 fps < 2 s floor
        ([(0, "frame"), (0, "waiting"), (30.0, None)], CameraStatus.down),
        ([(0, "frame"), (0, "waiting"), (40.0, "gap")], CameraStatus.down),  # a gap report is not a frame
        ([(0, "frame"), (0, "waiting"), (40.0, "gap"), (0.2, "frame")], CameraStatus.up),
        ([(0, "frame"), (0, "ended")], CameraStatus.down),
    ],
    ids=["opening", "opening-29s", "never", "busy", "fresh", "stale", "silent-30s", "gap", "back", "ended"],
)
def test_status(steps: list[tuple[float, str | None]], expected: CameraStatus) -> None:
    clock = Clock()
    m = monitor(clock)
    for advance, event in steps:
        clock.now += advance
        if event == "waiting":
            m.waiting("cam")
        elif event == "frame":
            m.delivered("cam", FRAME)
        elif event == "gap":
            m.delivered("cam", SourceGap("cam", FRAME.ts, FRAME.ts, "stream ended"))
        elif event == "ended":
            m.ended("cam", None)
    assert m.status("cam") is expected


def test_slow_analysis_rate_widens_the_stale_window() -> None:
    clock = Clock()
    m = monitor(clock, fps=0.5)  # one frame every 2 s: five slots are 10 s
    m.delivered("cam", FRAME)
    m.waiting("cam")
    clock.now += 9
    assert m.status("cam") is CameraStatus.up


def test_reports_are_per_interval_deltas() -> None:
    clock = Clock()
    m = monitor(clock)

    class Source:
        decoded_frames, dropped_frames = 0, 0

    src = Source()
    m.opened("cam", src)
    for _ in range(10):
        m.delivered("cam", FRAME)
        m.analysed("cam", {"counter": ZoneCount(persons=2, staff=1, items=0)})
    src.decoded_frames, src.dropped_frames = 60, 3
    clock.now += 2.0
    (first,) = m.reports()
    assert first == {"site": "site-a", "camera": "cam", "interval_s": 2.0, "frames": 60, "analysed": 10,
                     "dropped": 3, "fps": 5.0, "status": "up",
                     "zones": {"counter": {"persons": 2, "staff": 1, "items": 0}}}
    clock.now += 5.0
    (second,) = m.reports()
    assert (second["frames"], second["analysed"], second["dropped"], second["fps"]) == (0, 0, 0, 0.0)


class FakeSink:
    def __init__(self, ok: bool = True) -> None:
        self.ok = ok
        self.bodies: list[dict[str, Any]] = []

    def post_metrics(self, body: dict[str, Any]) -> bool:
        self.bodies.append(body)
        return self.ok


def test_reporter_posts_every_interval_and_a_final_down() -> None:
    m = monitor(Clock())
    m.delivered("cam", FRAME)
    sink = FakeSink()
    reporter = StatusReporter(m, [sink, object()], interval_s=0.05).start()  # a sink without post_metrics
    time.sleep(0.3)
    m.ended("cam")
    reporter.stop()
    assert len(sink.bodies) >= 3
    assert sink.bodies[0]["status"] == "up" and sink.bodies[-1]["status"] == "down"


def test_reporter_skips_the_final_round_when_the_api_is_unreachable() -> None:
    m = monitor(Clock())
    sink = FakeSink(ok=False)
    reporter = StatusReporter(m, [sink], interval_s=0.05).start()
    time.sleep(0.2)
    reporter.stop()
    sent = len(sink.bodies)
    assert sent >= 1 and reporter.rounds == sent  # no extra round on the way out


def test_restarted_sink_does_not_inherit_the_old_backoff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An outbox row left with an hour of backoff by the previous process goes at once."""
    monkeypatch.setenv("TW_HEALTH_KEY", INGEST_KEY)
    app = create_app(Settings(env="dev", data_dir=tmp_path / "api", ingest_keys=INGEST_KEY, argon2_time_cost=1,
                              argon2_memory_kib=64, argon2_parallelism=1))
    v = Violation.model_validate(record())
    with ThreadServer(app) as server:
        cfg = ApiSinkConfig(url=server.url, key_env="TW_HEALTH_KEY")
        old = HttpSink(cfg, tmp_path / "pipe", start=False)
        old.publish(v)
        item = old.outbox.next_due(time.time())
        assert item is not None
        old.outbox.retry_later(item, 3600, "API unreachable")
        old.close()
        new = HttpSink(cfg, tmp_path / "pipe")
        t0 = time.monotonic()
        while new.pending() and time.monotonic() - t0 < 5:
            time.sleep(0.05)
        assert new.pending() == 0 and time.monotonic() - t0 < 5  # no flush needed
        new.close()
    app.state.db.dispose()
