"""Clock drift against a real RTSP camera (GStreamer's RTSP server, which sends RTCP sender
reports): the live source reads the sender's wall clock from FFmpeg's ``start_time_realtime`` and
the health report carries the drift to the API."""

from __future__ import annotations

import time
from datetime import UTC
from pathlib import Path
from typing import Any

from tests.reliability.helpers import RtspCamera, require_rtsp_server
from vision.config import CameraConfig
from vision.frames import Frame
from vision.health import HealthMonitor
from vision.sources import open_source


def test_rtsp_sender_reports_give_the_clock_drift(tmp_path: Path, footage: Any) -> None:
    require_rtsp_server()
    cam = RtspCamera(footage("bottle-detection.mp4"), tmp_path)
    cam.start()
    config = CameraConfig(id="cam", source=cam.url, analysis_fps=5)
    monitor = HealthMonitor("site-a", [config])
    source = open_source(config, UTC)
    try:
        monitor.opened("cam", source)
        assert source.clock_drift_s is None  # no sender report before the first frames
        frames = 0
        deadline = time.monotonic() + 20
        while source.clock_drift_s is None and time.monotonic() < deadline:
            frames += isinstance(next(source), Frame)
        drift = source.clock_drift_s
        assert drift is not None, "no RTCP sender report within 20 s"
        # the server runs on this box's clock: the drift is the transport delay, well under a second
        assert abs(drift) < 1.0, drift
        assert frames > 0
        (report,) = monitor.reports()
        assert abs(report["clock_drift_s"] - drift) < 0.5  # the reader thread goes on smoothing it
    finally:
        source.close()
        cam.close()


def test_a_file_has_no_clock_drift(footage: Any) -> None:
    config = CameraConfig(id="cam", source=str(footage("bottle-detection.mp4")), analysis_fps=5)
    monitor = HealthMonitor("site-a", [config])
    source = open_source(config, UTC)
    try:
        monitor.opened("cam", source)
        next(source)
        assert source.clock_drift_s is None
        (report,) = monitor.reports()
        assert "clock_drift_s" not in report
    finally:
        source.close()
