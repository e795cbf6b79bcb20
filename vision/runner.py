"""Runs every camera of a config concurrently and routes what they find to files and sinks.

One thread per camera reads its source and drives its ``CameraPipeline``; the detector is
shared behind a lock (two cores gain nothing from two detectors running at once, and OpenCV DNN
networks are not thread-safe). Violation changes go to the configured sinks as they happen;
the final state of each violation, with its evidence paths, goes to ``--events-jsonl`` once
its clip is finished.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import IO, Any

from vision.batching import BatchingDetector, shared_detector
from vision.config import AppConfig, CameraConfig
from vision.config import CameraOfflineRule as CameraOfflineConfig
from vision.detectors import build_detector
from vision.detectors.base import FrameDetector
from vision.errors import SourceError, TellerWatchError
from vision.events import ChangeKind, Violation, ViolationChange
from vision.frames import Frame, SourceGap
from vision.health import DEFAULT_DOWN_AFTER_S, DEFAULT_INTERVAL_S, HealthMonitor, StatusReporter
from vision.journal import Journal, remove_partial_files, settle_evidence
from vision.pipeline import CameraPipeline, FrameResult
from vision.rules.camera_offline import CameraOfflineRule
from vision.sinks.base import Sink, ZoneCountSink
from vision.sources import FrameSource, StreamItem, open_source
from vision.timing import StageTimes
from vision.zone_sync import ZonePoller

log = logging.getLogger("tellerwatch.runner")

# called after each analysed frame with (camera id, frame, its source): progress bars, tests
OnFrame = Callable[[str, Frame, FrameSource], None]


@dataclass
class CameraReport:
    camera: str
    frames: int = 0
    detections_run: int = 0
    gaps: list[SourceGap] = field(default_factory=list)
    error: str | None = None
    last_t: float = 0.0
    origin: datetime | None = None  # wall-clock time of media time 0

    def seconds(self, ts: datetime) -> float:
        """A wall-clock time as seconds from this camera's first frame (for ``eval``)."""
        if self.origin is None:
            return 0.0
        return (ts - self.origin).total_seconds()


@dataclass
class RunReport:
    cameras: dict[str, CameraReport]
    violations: list[Violation]
    wall_s: float
    times: StageTimes
    recovered: list[Violation] = field(default_factory=list)  # left open by a run that died


class JsonlWriter:
    def __init__(self, path: Path | None) -> None:
        self._fh: IO[str] | None = None
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("w", encoding="utf-8")

    def write(self, obj: dict[str, Any]) -> None:
        if self._fh is None:
            return
        line = json.dumps(obj, ensure_ascii=False)
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


class ViolationRouter:
    """Sends every change to the sinks and writes each violation's final state once.

    With a ``journal``, each change is journalled before it goes out, and a violation leaves the
    journal once its final state has gone to the sinks (see ``vision.journal``).
    """

    def __init__(self, sinks: Sequence[Sink], events: JsonlWriter, clips: bool, data_dir: Path,
                 journal: Journal | None = None) -> None:
        self.sinks = sinks
        self.data_dir = data_dir
        self.events = events
        self.clips = clips
        self.journal = journal
        self.final: dict[str, Violation] = {}
        self._lock = threading.Lock()

    def change(self, change: ViolationChange) -> None:
        final_now = change.kind == ChangeKind.ended and not self.clips
        if self.journal is not None and not final_now:
            self.journal.record(change.violation)
        self._publish(change.violation)
        if final_now:
            self.final_state(change.violation)

    def stream_change(self, change: ViolationChange) -> None:
        """A change of a rule with no evidence (camera_offline: there are no frames to show):
        its end is its final state."""
        self.change(change)
        if change.kind == ChangeKind.ended:
            self.final_state(change.violation)

    def final_state(self, violation: Violation) -> None:
        with self._lock:
            if violation.id in self.final:
                return
            self.final[violation.id] = violation
        self.events.write(violation.to_json_dict())
        ok = self._publish(violation, with_evidence=True) if self.clips else True
        if self.journal is not None and ok:
            self.journal.forget(violation)

    def seen(self, site: str, camera: str, ts: datetime) -> None:
        if self.journal is not None:
            self.journal.seen(site, camera, ts)

    def recover(self) -> list[Violation]:
        """Close and send what a run that died left open (``details.interrupted``); drop its
        partial evidence files. Returns the records sent."""
        if self.journal is None or not self.journal.owner:
            return []  # without the journal's lock, partial files may be another live run's
        removed = remove_partial_files(self.data_dir)
        if removed:
            log.warning("removed %d partial evidence file(s) left by a run that stopped", len(removed))
        sent = []
        for v in self.journal.left_open():
            v = settle_evidence(v, self.data_dir)
            log.warning("violation %s (%s %s %s) was left open by a run that stopped; closed at %s as interrupted",
                        v.id, v.camera, v.rule, v.zone, v.ended_at)
            self.events.write(v.to_json_dict())
            if self._publish(v, with_evidence=True):
                self.journal.forget(v)
            sent.append(v)
        return sent

    def _publish(self, violation: Violation, with_evidence: bool = False) -> bool:
        """To every sink; False where one of them failed to take it."""
        evidence = None
        if with_evidence:
            evidence = {
                kind: self.data_dir / rel
                for kind, rel in (("snapshot", violation.snapshot), ("clip", violation.clip))
                if rel and (self.data_dir / rel).is_file()
            }
        ok = True
        for sink in self.sinks:
            try:
                sink.publish(violation, evidence)
            except Exception as exc:  # a broken sink must not stop the cameras  # noqa: BLE001
                log.error("sink %s failed for %s: %s", type(sink).__name__, violation.id, exc)
                ok = False
        return ok

    def zone_counts(self, site: str, result: FrameResult) -> None:
        counts = {name: z.staff for name, z in result.zones.items()}
        for sink in self.sinks:
            if not isinstance(sink, ZoneCountSink):
                continue
            try:
                sink.publish_zone_counts(site, result.camera, counts)
            except Exception as exc:  # noqa: BLE001
                log.error("sink %s failed for zone counts: %s", type(sink).__name__, exc)


def run_camera(
    app: AppConfig,
    camera: CameraConfig,
    pipeline: CameraPipeline,
    router: ViolationRouter,
    frames_out: JsonlWriter,
    report: CameraReport,
    *,
    max_seconds: float | None,
    stop: threading.Event,
    on_frame: OnFrame | None = None,
    health: HealthMonitor | None = None,
    zones: ZonePoller | None = None,
    offline: list[CameraOfflineRule] | None = None,
) -> None:
    """One camera's thread: read its source to the end (or ``stop``), analyse each frame, hand on
    what happened; whatever ends the loop, open violations are closed and their evidence finished."""
    loop = _CameraLoop(app, camera, pipeline, router, frames_out, report, on_frame, health, zones, offline or [])
    try:
        # clips carry every source frame: the frames sampling skips ride along as Frame.lead_in
        with open_source(camera, app.site.tz, stop=stop, every_frame=pipeline.evidence.enabled) as source:
            loop.read(source, max_seconds, stop)
    except (SourceError, TellerWatchError) as exc:
        report.error = str(exc)
        log.error("camera %s: %s", camera.id, exc)
    finally:
        loop.finish()


@dataclass
class _CameraLoop:
    """The steps of ``run_camera``: one method per thing that happens to a frame."""

    app: AppConfig
    camera: CameraConfig
    pipeline: CameraPipeline
    router: ViolationRouter
    frames_out: JsonlWriter
    report: CameraReport
    on_frame: OnFrame | None
    health: HealthMonitor | None
    zones: ZonePoller | None
    offline: list[CameraOfflineRule]
    last_counts: dict[str, int] | None = None

    def read(self, source: FrameSource, max_seconds: float | None, stop: threading.Event) -> None:
        if source.fps:
            self.pipeline.evidence.set_source_fps(source.fps)
        if self.health is not None:
            self.health.opened(self.camera.id, source)
        it = iter(source)
        while not stop.is_set():
            t0 = time.perf_counter()
            item = self._next(it)
            if item is None:
                break
            if isinstance(item, SourceGap):
                self._gap(item)
                continue
            self.pipeline.times.add("decode", time.perf_counter() - t0)
            if source.is_live:
                self._live_offline(item)
            if max_seconds is not None and item.t > max_seconds:
                break
            if not source.is_live:
                self._media_offline(item)
            self._apply_zones()
            self._analyse(item)
            if self.on_frame is not None:
                self.on_frame(self.camera.id, item, source)

    def _next(self, it: Iterator[StreamItem]) -> Frame | SourceGap | None:
        if self.health is not None:
            self.health.waiting(self.camera.id)
        try:
            item: Frame | SourceGap = next(it)
        except StopIteration:
            return None
        if self.health is not None:
            self.health.delivered(self.camera.id, item)
        return item

    def _live_offline(self, frame: Frame) -> None:
        """A live frame ends an outage the watchdog filed (wall time)."""
        for rule in self.offline:
            for change in rule.frame(frame.ts):
                self.router.stream_change(change)

    def _media_offline(self, frame: Frame) -> None:
        """A recording's frame times: a hole of ``grace_s`` or more between two frames is video loss
        (media time, no watchdog). The frames sampling skipped (``lead_in``, kept where clips are
        made) come first, so the hole starts at the very last frame before it."""
        for ts in [*(f.ts for f in frame.lead_in), frame.ts]:
            for rule in self.offline:
                for change in rule.step(ts):
                    self.router.stream_change(change)
                    v = change.violation
                    if change.kind == ChangeKind.started:
                        self._gap(SourceGap(self.camera.id, v.started_at, ts, "no frames in the recording"))

    def _gap(self, gap: SourceGap) -> None:
        self.report.gaps.append(gap)
        self.pipeline.restart_warmup()
        log.warning("camera %s: no frames from %s to %s (%s)", self.camera.id, gap.started, gap.ended, gap.reason)

    def _apply_zones(self) -> None:
        if self.zones is None:
            return
        cam = self.camera.id
        if (update := self.zones.take(cam)) is not None:
            version, new_zones = update
            self.pipeline.apply_zones(new_zones)
            self.zones.mark_applied(cam, version)
            log.info("camera %s: zones version %s applied", cam, version)
        if self.health is not None and (applied := self.zones.applied.get(cam)) is not None:
            self.health.zones_applied(cam, applied)

    def _analyse(self, frame: Frame) -> None:
        report, router = self.report, self.router
        if report.origin is None:
            report.origin = frame.ts - timedelta(seconds=frame.t)
        result = self.pipeline.process(frame)
        router.seen(self.app.site.id, self.camera.id, frame.ts)
        report.frames += 1
        report.last_t = frame.t
        self.frames_out.write(result.to_json_dict())
        if self.health is not None:
            self.health.analysed(self.camera.id, result.zones, frame.image)
        for change in result.changes:
            router.change(change)
        counts = {n: z.staff for n, z in result.zones.items()}
        if counts != self.last_counts:
            router.zone_counts(self.app.site.id, result)
            self.last_counts = counts
        for v in self.pipeline.evidence.finished():
            router.final_state(v)

    def finish(self) -> None:
        for rule in self.offline:
            for change in rule.close(datetime.now(self.app.site.tz)):
                self.router.stream_change(change)
        for change in self.pipeline.finish():
            self.router.change(change)
        for v in self.pipeline.close_evidence():
            self.router.final_state(v)
        self.report.detections_run = self.pipeline.detections_run
        if self.health is not None:
            self.health.ended(self.camera.id, self.report.error)


class OfflineWatchdog:
    """Asks every ``camera_offline`` rule about its camera's silence once every ``interval_s``: a
    camera thread blocked on a dead source cannot tell anyone itself."""

    def __init__(self, rules: list[CameraOfflineRule], router: ViolationRouter, tz: tzinfo,
                 stop: threading.Event, interval_s: float = 0.5) -> None:
        self.rules, self.router, self.tz, self.interval_s = rules, router, tz, interval_s
        self._stop = stop
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="offline-watchdog", daemon=True)

    def start(self) -> None:
        if self.rules:
            self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not (self._done.is_set() or self._stop.is_set()):
            now = datetime.now(self.tz)
            for rule in self.rules:
                for change in rule.tick(now):
                    log.warning("camera %s: no frames since %s: camera_offline filed", rule.camera_id,
                                change.violation.started_at)
                    self.router.stream_change(change)
            self._done.wait(self.interval_s)


def _shared(app: AppConfig, detector: FrameDetector | None) -> FrameDetector:
    """The cameras' detector: ``detector`` if given, else ``detector.workers`` copies of the
    configured one (no more than there are cameras) behind one front (vision.batching)."""
    cfg, cameras = app.detector, len(app.cameras)
    workers = min(cfg.workers, cameras)
    if detector is not None or workers <= 1:
        return shared_detector(detector or build_detector(cfg), cameras)
    each = cfg.model_copy(update={"threads": cfg.worker_threads(workers)})
    return shared_detector(build_detector(each), cameras, more=lambda: build_detector(each), workers=workers)


def preflight(app: AppConfig) -> None:
    """Opens every file source once so that a missing or undecodable video stops the run before it
    starts (one line, exit 2). Live sources are not probed: a camera that is down is reconnected."""
    for cam in app.cameras:
        if cam.is_live:
            continue
        source = open_source(cam, app.site.tz)
        source.close()


def run(
    app: AppConfig,
    *,
    data_dir: Path,
    events_jsonl: Path | None = None,
    frames_jsonl: Path | None = None,
    clips: bool = True,
    max_seconds: float | None = None,
    sinks: Sequence[Sink] | None = None,
    detector: FrameDetector | None = None,
    motion_gating: bool | None = None,
    on_frame: OnFrame | None = None,
    stop: threading.Event | None = None,
    status_interval_s: float | None = DEFAULT_INTERVAL_S,
    down_after_s: float = DEFAULT_DOWN_AFTER_S,
    journal: bool = False,
) -> RunReport:
    """Runs all cameras to the end of their files (or until ``stop``); returns what happened.

    Every ``status_interval_s`` (None: never) each camera's status (up / reconnecting / down,
    see ``vision.health``) and frame rate go to the sinks that have ``post_metrics``.

    With ``journal`` (``tellerwatch run``), open violations are journalled under ``data_dir`` and
    those a previous run left open are closed as interrupted before the cameras start.
    """
    stop = stop or threading.Event()
    det = _shared(app, detector)
    preflight(app)
    times = StageTimes()
    events = JsonlWriter(events_jsonl)
    frames_out = JsonlWriter(frames_jsonl)
    jr = Journal(data_dir) if journal else None
    router = ViolationRouter(sinks or [], events, clips, data_dir, jr)
    recovered = router.recover()
    reports = {c.id: CameraReport(c.id) for c in app.cameras}
    pipelines = {
        c.id: CameraPipeline(app, c, det, data_dir=data_dir, clips=clips, times=times, motion_gating=motion_gating)
        for c in app.cameras
    }
    opened = datetime.now(app.site.tz)
    # a live camera's silence is measured in wall time from the open; a recording's holes in media
    # time from its first frame (its end is not an outage: it ends)
    offline = {
        c.id: [CameraOfflineRule(r, site_id=app.site.id, camera_id=c.id, since=opened if c.is_live else None)
               for r in c.rules if isinstance(r, CameraOfflineConfig)]
        for c in app.cameras
    }
    watchdog = OfflineWatchdog([r for c in app.cameras if c.is_live for r in offline[c.id]], router,
                               app.site.tz, stop)
    health = HealthMonitor(app.site.id, app.cameras, down_after_s=down_after_s)
    poller = ZonePoller(app.sinks.api, app.site.id, app.cameras).start() if app.sinks.api and sinks else None
    reporter = StatusReporter(health, sinks or [], status_interval_s) if status_interval_s else None
    start = time.perf_counter()
    threads = [
        threading.Thread(
            target=run_camera,
            name=f"camera-{c.id}",
            args=(app, c, pipelines[c.id], router, frames_out, reports[c.id]),
            kwargs={"max_seconds": max_seconds, "stop": stop, "on_frame": on_frame, "health": health,
                    "zones": poller, "offline": offline.get(c.id)},
            daemon=True,
        )
        for c in app.cameras
    ]
    for th in threads:
        th.start()
    watchdog.start()
    if reporter is not None:
        reporter.start()
    try:
        # Poll rather than join: in CPython 3.11 a Ctrl-C that interrupts Thread.join() marks the
        # thread as stopped while it still runs (bpo-45274's fix releases its state lock), so the
        # joins below returned at once, the CLI exited under a camera still closing its clips, and
        # the process died with SIGABRT ("terminate called without an active exception").
        while any(th.is_alive() for th in threads):
            time.sleep(0.2)
    except KeyboardInterrupt:
        stop.set()
        for th in threads:
            th.join(timeout=30)
    watchdog.stop()
    if reporter is not None:
        reporter.stop()
    if poller is not None:
        poller.close()
    if isinstance(det, BatchingDetector):
        det.close()
    wall = time.perf_counter() - start
    events.close()
    frames_out.close()
    if jr is not None:
        jr.close()
    return RunReport(reports, list(router.final.values()), wall, times, recovered)
