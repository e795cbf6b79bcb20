"""Camera status for operators: is each camera delivering frames, reconnecting, or down?

A camera that silently stops is the worst failure of a CCTV rule engine: no frames, no
violations, and nothing on screen says why. So the runner tells a ``HealthMonitor`` when each
camera thread starts waiting for its source and when a frame arrives, and a ``StatusReporter``
thread posts one ``PipelineMetricsIn`` body per camera every few seconds to every sink that has
``post_metrics`` (the API's ``POST /api/v1/metrics/pipeline``, which feeds ``/metrics``).

Status, judged from how long the camera thread has been waiting for its next frame:

* ``up``: a frame arrived within ``stale_s`` (at least 2 s, or five analysis slots), or the
  thread is busy analysing one;
* ``reconnecting``: no frame for longer than that, but for less than ``down_after_s`` (the live
  source is reopening the stream with backoff), or the camera has not delivered its first
  frame yet;
* ``down``: no frame for ``down_after_s`` or more, or the camera's thread has ended (a failed
  source, the end of a file, or the pipeline stopping): nobody watches that counter now.

With each round the reporter also uploads every camera's newest analysed frame (downscaled to
``FRAME_MAX_WIDTH``, JPEG) to the sinks that have ``post_frame`` (``POST /cameras/{id}/frame``),
so the zone editor shows the live picture next to the counts of the same moment: one frame per
camera per interval, and only when a newer one exists.

The report is best effort, like ``post_metrics`` itself: a lost report is superseded by the
next one, and a failing API never slows the cameras down (posting happens on its own thread).
"""

from __future__ import annotations

import enum
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vision.config import CameraConfig
from vision.frames import Frame
from vision.sinks.base import FrameSink, MetricsSink

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 5.0
DEFAULT_DOWN_AFTER_S = 30.0
MIN_STALE_S = 2.0
STALE_SLOTS = 5  # analysis slots without a frame before a camera is no longer 'up'
FRAME_MAX_WIDTH = 960  # uploaded frames: enough for drawing zones, ~60-120 KB as JPEG
FRAME_JPEG_QUALITY = 75


class CameraStatus(enum.StrEnum):
    up = "up"
    reconnecting = "reconnecting"
    down = "down"


@dataclass
class _Camera:
    id: str
    stale_s: float
    started: float
    waiting_since: float | None = None
    last_frame: float | None = None
    ended: bool = False
    error: str | None = None
    source: Any = None  # the FrameSource, for its decoded / dropped counters
    analysed: int = 0
    zones: dict[str, dict[str, int]] = field(default_factory=dict)
    zones_version: int | None = None  # the API zones version this camera runs (zone hot reload)
    # counters at the previous report, to send per-interval deltas
    sent_analysed: int = 0
    sent_decoded: int = 0
    sent_dropped: int = 0
    frame: np.ndarray | None = None  # the newest analysed image (a reference: sources never reuse it)
    frame_seq: int = 0
    sent_frame_seq: int = 0


class HealthMonitor:
    """Thread-safe record of what each camera thread is doing; cheap enough to call per frame."""

    def __init__(
        self,
        site: str,
        cameras: Iterable[CameraConfig],
        *,
        down_after_s: float = DEFAULT_DOWN_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not down_after_s > 0:
            raise ValueError(f"down_after_s must be > 0, got {down_after_s!r}")
        self.site = site
        self.down_after_s = down_after_s
        self._clock = clock
        now = clock()
        self._cams = {
            c.id: _Camera(c.id, max(MIN_STALE_S, STALE_SLOTS / c.analysis_fps), now) for c in cameras
        }
        self._lock = threading.Lock()
        self._last_report = now

    # -- camera threads

    def opened(self, camera_id: str, source: Any) -> None:
        with self._lock:
            self._cams[camera_id].source = source

    def waiting(self, camera_id: str) -> None:
        """The camera thread asks its source for the next item (it may block for a long time)."""
        now = self._clock()
        with self._lock:
            cam = self._cams[camera_id]
            if cam.waiting_since is None:  # a gap report in between does not restart the wait
                cam.waiting_since = now

    def delivered(self, camera_id: str, item: object) -> None:
        """The source handed over a frame or a gap report; only a frame ends the wait."""
        if not isinstance(item, Frame):
            return
        now = self._clock()
        with self._lock:
            cam = self._cams[camera_id]
            cam.waiting_since, cam.last_frame = None, now

    def analysed(self, camera_id: str, zones: dict[str, Any], image: np.ndarray | None = None) -> None:
        """One frame went through the pipeline; ``zones`` maps zone name -> ``ZoneCount``; ``image``
        is kept (by reference) as the camera's latest picture for the next upload."""
        counts = {n: {"persons": z.persons, "staff": z.staff, "items": z.items} for n, z in zones.items()}
        with self._lock:
            cam = self._cams[camera_id]
            cam.analysed += 1
            cam.zones = counts
            if image is not None:
                cam.frame = image
                cam.frame_seq += 1

    def zones_applied(self, camera_id: str, version: int) -> None:
        """The camera now runs this version of its zones from the API (reported as ``zones_version``)."""
        with self._lock:
            self._cams[camera_id].zones_version = version

    def ended(self, camera_id: str, error: str | None = None) -> None:
        with self._lock:
            cam = self._cams[camera_id]
            cam.ended, cam.error, cam.waiting_since = True, error, None

    # -- readers

    def status(self, camera_id: str) -> CameraStatus:
        with self._lock:
            return self._status(self._cams[camera_id], self._clock())

    def _status(self, cam: _Camera, now: float) -> CameraStatus:
        if cam.ended:
            return CameraStatus.down
        if cam.last_frame is not None and (cam.waiting_since is None or now - cam.waiting_since <= cam.stale_s):
            return CameraStatus.up
        silent_since = cam.last_frame if cam.last_frame is not None else cam.started
        return CameraStatus.down if now - silent_since >= self.down_after_s else CameraStatus.reconnecting

    def new_frames(self) -> list[tuple[str, np.ndarray]]:
        """Each camera's newest image not handed out before (at most one per camera)."""
        out = []
        with self._lock:
            for cam in self._cams.values():
                if cam.frame is not None and cam.frame_seq != cam.sent_frame_seq:
                    out.append((cam.id, cam.frame))
                    cam.sent_frame_seq = cam.frame_seq
        return out

    def reports(self) -> list[dict[str, Any]]:
        """One ``PipelineMetricsIn`` body per camera for the interval since the previous call."""
        now = self._clock()
        out = []
        with self._lock:
            interval = min(3600.0, max(now - self._last_report, 1e-3))
            self._last_report = now
            for cam in self._cams.values():
                decoded = int(getattr(cam.source, "decoded_frames", 0) or 0)
                dropped = int(getattr(cam.source, "dropped_frames", 0) or 0)
                analysed = cam.analysed - cam.sent_analysed
                body: dict[str, Any] = {
                    "site": self.site,
                    "camera": cam.id,
                    "interval_s": round(interval, 3),
                    "frames": max(0, decoded - cam.sent_decoded),
                    "analysed": analysed,
                    "dropped": max(0, dropped - cam.sent_dropped),
                    "fps": round(analysed / interval, 3),
                    "status": self._status(cam, now).value,
                    "zones": dict(cam.zones),
                }
                if cam.zones_version is not None:
                    body["zones_version"] = cam.zones_version
                drift = getattr(cam.source, "clock_drift_s", None)
                if drift is not None:
                    body["clock_drift_s"] = round(float(drift), 3)
                cam.sent_analysed, cam.sent_decoded, cam.sent_dropped = cam.analysed, decoded, dropped
                out.append(body)
        return out


class StatusReporter:
    """Posts the monitor's reports every ``interval_s`` to each sink with ``post_metrics``.

    ``stop`` sends one last round (every camera 'down': the pipeline no longer watches them),
    unless the previous round could not reach any sink, so that an unreachable API never delays
    the pipeline's exit by a timeout per camera.
    """

    def __init__(self, monitor: HealthMonitor, sinks: Iterable[object], interval_s: float = DEFAULT_INTERVAL_S) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
        self.monitor = monitor
        sinks = list(sinks)
        self.sinks = [s for s in sinks if isinstance(s, MetricsSink)]
        self.frame_sinks = [s for s in sinks if isinstance(s, FrameSink)]
        self.frames_sent = 0
        self.interval_s = interval_s
        self.rounds = 0
        self._reachable = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tellerwatch-status", daemon=True)

    def start(self) -> StatusReporter:
        if self.sinks or self.frame_sinks:
            self._thread.start()
        return self

    def stop(self, final: bool = True) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        if final and (self.sinks or self.frame_sinks) and self._reachable:
            self.send()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.send()

    def send(self) -> None:
        reports = self.monitor.reports()
        ok = False
        for sink in self.sinks:
            for body in reports:
                try:
                    ok = bool(sink.post_metrics(body)) or ok
                except Exception as exc:  # a report must never take the pipeline down  # noqa: BLE001
                    log.debug("status report to %s failed: %s", type(sink).__name__, exc)
        ok = self.send_frames() or ok
        self.rounds += 1
        if ok and not self._reachable:
            log.info("camera status reports reach the API again")
        elif not ok and self._reachable:  # one warning per outage
            log.warning("camera status reports cannot reach the API; retrying every %g s", self.interval_s)
        self._reachable = ok

    def send_frames(self) -> bool:
        """Upload each camera's newest analysed frame; True if any sink took one."""
        if not self.frame_sinks:
            return False
        ok = False
        for camera_id, image in self.monitor.new_frames():
            try:
                jpeg = encode_frame(image)
            except (ValueError, cv2.error) as exc:
                log.debug("camera %s: latest frame not encoded: %s", camera_id, exc)
                continue
            for sink in self.frame_sinks:
                try:
                    sent = bool(sink.post_frame(self.monitor.site, camera_id, jpeg))
                except Exception as exc:  # noqa: BLE001 - as for reports: never take the pipeline down
                    log.debug("frame upload to %s failed: %s", type(sink).__name__, exc)
                    sent = False
                ok = sent or ok
                self.frames_sent += int(sent)
        return ok


def encode_frame(image: np.ndarray, max_width: int = FRAME_MAX_WIDTH, quality: int = FRAME_JPEG_QUALITY) -> bytes:
    """A frame for the zone editor: scaled down to ``max_width`` (zones are normalised, so the
    editor needs the aspect ratio, not the pixels), JPEG."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    h, w = image.shape[:2]
    if w > max_width:
        image = cv2.resize(image, (max_width, max(1, math.floor(h * max_width / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
