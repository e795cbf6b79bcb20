"""Real servers on loopback for fault injection: an RTSP camera, the API as a subprocess; a stub
detector so that the pipeline's temporal logic, not the model, is what a test measures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import supervision as sv
from prometheus_client.parser import text_string_to_metric_families

from tests.api.helpers import free_port
from vision.detectors.base import DetectTimes

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SCRIPT = Path(__file__).with_name("rtsp_server.py")
RTSP_PACKAGES = "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"


def require_rtsp_server() -> None:
    """Skip (naming the Debian packages) where GStreamer's RTSP server is not installed."""
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
        "assert all(Gst.ElementFactory.find(e) for e in ('qtdemux', 'h264parse', 'rtph264pay'))"
    )
    try:
        ok = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        pytest.skip(f"GStreamer's RTSP server is not installed (apt-get install {RTSP_PACKAGES})")


class RtspCamera:
    """``rtsp://127.0.0.1:PORT/cam`` served by a GStreamer subprocess that a test may SIGKILL and
    start again on the same port (a camera rebooting)."""

    def __init__(self, clip: Path, log_dir: Path, port: int | None = None) -> None:
        self.clip = clip
        self.port = port or free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"
        self.log = log_dir / f"rtsp-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> float:
        """Start serving; returns the monotonic time at which it accepts connections."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [SYSTEM_PYTHON, str(RTSP_SCRIPT), str(self.port), str(self.clip)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"RTSP server exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return time.monotonic()
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("RTSP server did not start")

    def kill(self) -> float:
        """SIGKILL: no RTSP TEARDOWN, the TCP connection just dies. Returns the monotonic time."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        return time.monotonic()

    def close(self) -> None:
        self.kill()


class StubDetector:
    """One person standing in the middle of every frame."""

    name = "stub"
    class_names = ["person"]
    person_class_id = 0

    def detect_timed(self, image: np.ndarray) -> tuple[sv.Detections, DetectTimes]:
        return self.detect(image), DetectTimes()

    def detect(self, image: np.ndarray) -> sv.Detections:
        h, w = image.shape[:2]
        return sv.Detections(
            xyxy=np.array([[0.4 * w, 0.2 * h, 0.6 * w, 0.95 * h]], np.float32),
            confidence=np.array([0.9], np.float32),
            class_id=np.array([0]),
        )


def prometheus(url: str, key: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics`` as {(sample name, sorted labels): value}."""
    text = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=5).text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def camera_status(url: str, key: str, site: str, camera: str) -> str | None:
    """The status whose ``tellerwatch_camera_status`` sample is 1, or None before any report."""
    samples = prometheus(url, key)
    for status in ("up", "reconnecting", "down"):
        labels = tuple(sorted({"site": site, "camera": camera, "status": status}.items()))
        if samples.get(("tellerwatch_camera_status", labels)) == 1.0:
            return status
    return None


class ApiProcess:
    """``tellerwatch serve`` as a subprocess on a loopback port; ``kill`` is SIGKILL."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> ApiProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tellerwatch", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def wait_for(predicate: Any, timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def still_clip(real: Path, dst: Path, seconds: float = 10.0, fps: int = 5, size: tuple[int, int] = (320, 180)) -> Path:
    """An H.264 clip of the first frame of a real clip, held still: an empty counter. Looped, it
    runs the whole pipeline at hundreds of frames per second (the motion gate skips the detector),
    so a test can run minutes of media time in seconds."""
    import av

    with av.open(str(real)) as inp:
        first = next(inp.decode(video=0)).reformat(width=size[0], height=size[1], format="yuv420p")
    image = first.to_ndarray()
    with av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(2 * fps)}
        stream.time_base = Fraction(1, fps)
        for n in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
            frame.pts, frame.time_base = n, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return dst


def windows(minutes: int, start_hour: int = 9) -> str:
    """Business hours that open every other minute (``09:00-09:01``, ``09:02-09:03``, ...): a
    ``when: business_hours`` rule whose condition always holds then files one violation every two
    minutes of media time, each ended by the schedule."""
    spans = []
    for m in range(0, minutes, 2):
        h1, m1 = divmod(start_hour * 60 + m, 60)
        h2, m2 = divmod(start_hour * 60 + m + 1, 60)
        spans.append(f'"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}"')
    return "[" + ", ".join(spans) + "]"


def interruptible() -> None:
    """``preexec_fn`` for a child that the test stops with SIGINT: a test run started in the
    background (``cmd &``, nohup) ignores SIGINT, and children inherit that, so Ctrl-C would never
    reach the pipeline; the child gets the default action back and Python its KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
