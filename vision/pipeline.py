"""One camera's analysis path: detect -> track -> zones -> staff -> counter items -> rules -> evidence.

The frame's record is ``sv.Detections``: the detector's boxes, split into persons and other
classes; each person stage takes the frame and the persons and returns them with its column
(``tracker_id``, ``data["zones"]``, ``data["is_staff"]``); the counter items are their own
Detections. ``vision.observations.observe`` turns them into the rules' ``Observation``, and the
overlay draws the same Detections. Every stage is timed on its own (``StageTimes``), the
detector's preprocessing and inference from the times it returns with its boxes.

``CameraPipeline.process`` takes one analysed frame and returns a typed ``FrameResult``; it owns
no threads and does no I/O besides handing frames to the evidence recorder, so it can be driven
by the runner, by ``bench`` or by a test alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

from vision.config import AppConfig, CameraConfig, CameraTamperRule, UnattendedItemsRule, ZoneConfig
from vision.detectors.base import DetectTimes, FrameDetector
from vision.events import Violation, ViolationChange
from vision.evidence import EvidenceRecorder, Overlay, RuleOverlay
from vision.evidence.overlay import ZoneCount as OverlayCount
from vision.frames import Frame
from vision.items import CounterItemWatcher
from vision.motion import MotionGate
from vision.observations import IS_STAFF, ZONES, FrameInfo, Observation, items_as_detections, observe
from vision.rules import RuleEngine
from vision.staff import build_staff_identifier
from vision.tamper import TamperWatch, load_reference
from vision.timing import StageTimes
from vision.tracking import PersonTracker
from vision.zones import ZoneSet

#: a stage of the persons' path: takes the frame and the Detections, returns them with its column
PersonStage = Callable[[Frame, sv.Detections], sv.Detections]

WARMUP_MAX_S = 5.0  # the longest the rules wait for the people in view to be confirmed


@dataclass(frozen=True, slots=True)
class ZoneCount:
    persons: int
    staff: int
    items: int


@dataclass(slots=True)
class FrameResult:
    camera: str
    index: int
    t: float
    ts: datetime
    persons: int
    zones: dict[str, ZoneCount]
    changes: list[ViolationChange] = field(default_factory=list)
    detected: bool = True

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "camera": self.camera,
            "index": self.index,
            "t": round(self.t, 3),
            "persons": self.persons,
            "zones": {
                name: {"persons": z.persons, "staff": z.staff, "items": z.items} for name, z in self.zones.items()
            },
        }


def split_detections(dets: sv.Detections, person_class_id: int) -> tuple[sv.Detections, sv.Detections]:
    """(persons, items) by class id."""
    if len(dets) == 0:
        return dets, dets
    is_person = np.asarray(dets.class_id) == person_class_id
    persons, items = dets[is_person], dets[~is_person]
    assert isinstance(persons, sv.Detections) and isinstance(items, sv.Detections)  # narrows for mypy
    return persons, items


class CameraPipeline:
    def __init__(
        self,
        app: AppConfig,
        camera: CameraConfig,
        detector: FrameDetector,
        *,
        data_dir: Path,
        clips: bool = True,
        times: StageTimes | None = None,
        motion_gating: bool | None = None,
    ) -> None:
        self.app = app
        self.camera = camera
        self.detector = detector
        self.times = times or StageTimes()
        self.tracker = PersonTracker(
            detector_confidence=app.detector.confidence, analysis_fps=camera.analysis_fps
        )
        self.staff = build_staff_identifier(camera.staff, camera.zones)
        self.rules = RuleEngine(app.site, camera)
        self.evidence = EvidenceRecorder(camera, data_dir, enabled=clips)
        gating = camera.motion.enabled if motion_gating is None else motion_gating
        self.motion = MotionGate(camera.motion, camera.zones) if gating else None
        self.tamper: TamperWatch | None = None
        if any(isinstance(r, CameraTamperRule) for r in camera.rules):
            ref = camera.evidence.reference
            self.tamper = TamperWatch(load_reference(ref) if ref is not None else None)
        self._zones: ZoneSet | None = None
        self._watchers: dict[str, CounterItemWatcher] = {}
        self._last_ts: datetime | None = None
        self._last_persons = sv.Detections.empty()
        self._last_items = sv.Detections.empty()
        self._last_overlay: Overlay | None = None
        self.frames = 0
        self.detections_run = 0
        self._warm_frames = 0  # analysed frames since the stream started or came back
        self._warm_start_t: float | None = None
        self.warmup_frames = 0  # frames the rules were held back for, over the whole run

    def _ensure_zones(self, frame: Frame) -> ZoneSet:
        if self._zones is None or (self._zones.width, self._zones.height) != (frame.width, frame.height):
            self._zones = ZoneSet(self.camera.zones, frame.width, frame.height)
            self._watchers = {}
            for rule in self.camera.rules:
                if isinstance(rule, UnattendedItemsRule) and rule.zone not in self._watchers:
                    self._watchers[rule.zone] = CounterItemWatcher(
                        self.camera.zone(rule.zone), rule, frame_size=(frame.width, frame.height)
                    )
        return self._zones

    def apply_zones(self, zones: list[ZoneConfig]) -> None:
        """Swap in zones edited in the web page; rules keep their state (names are unchanged)."""
        self.camera = self.camera.model_copy(update={"zones": zones})
        self._zones = None  # rebuilt, with the counter watchers, on the next frame
        self.staff = build_staff_identifier(self.camera.staff, self.camera.zones)
        if self.motion is not None:
            self.motion = MotionGate(self.camera.motion, self.camera.zones)
        self.evidence.camera = self.camera

    def restart_warmup(self) -> None:
        """The stream came back after a gap: the people in view must be confirmed again."""
        self._warm_frames, self._warm_start_t = 0, None

    def _warming(self, frame: Frame, persons: sv.Detections) -> bool:
        """True while the tracker has not had ``min_consecutive`` frames since (re)start, or a
        person in a zone is still unconfirmed (no id) or undecided (staff identity), within
        ``min_consecutive + min_evidence + 1`` frames and ``WARMUP_MAX_S`` of the start."""
        self._warm_frames += 1
        if self._warm_start_t is None:
            self._warm_start_t = frame.t
        n = self._warm_frames
        cap = self.tracker.min_consecutive + self.camera.staff.min_evidence + 1
        if n > cap or frame.t - self._warm_start_t > WARMUP_MAX_S:
            return False
        if n < self.tracker.min_consecutive:
            return True
        ids = persons.tracker_id if persons.tracker_id is not None else np.full(len(persons), -1)
        zones, staff = persons.data[ZONES], persons.data[IS_STAFF]
        return any(zones[i] and (ids[i] < 0 or staff[i] is None) for i in range(len(persons)))

    # ------------------------------------------------------------------ stages
    # Each takes the frame and the persons' Detections and returns them with its column added.

    def _track(self, frame: Frame, persons: sv.Detections) -> sv.Detections:
        return self.tracker.update(persons, frame.t)

    def _zones_stage(self, frame: Frame, persons: sv.Detections) -> sv.Detections:
        assert self._zones is not None
        return self._zones.annotate(persons)

    def _staff_stage(self, frame: Frame, persons: sv.Detections) -> sv.Detections:
        return self.staff(frame.image, persons, frame.t)

    def _person_stages(self) -> list[tuple[str, PersonStage]]:
        return [("track", self._track), ("zones", self._zones_stage), ("staff", self._staff_stage)]

    def _counter_items(self, frame: Frame, persons: sv.Detections, items: sv.Detections) -> sv.Detections:
        """The items stage: what lies still on the counter zones, as its own Detections."""
        found = [obs for watcher in self._watchers.values() for obs in watcher.update(frame, persons, items)]
        return items_as_detections(found)

    def _detections(self, frame: Frame, zones: ZoneSet) -> tuple[sv.Detections, sv.Detections, bool]:
        """(persons, items, whether the detector ran): the motion gate may hold the last ones."""
        times = self.times
        if self.motion is not None:
            with times.time("motion"):
                if not self.motion.should_detect(frame, self._last_persons):
                    return self._last_persons, self._last_items, False
        dets, spent = self._detect(frame.image, zones)
        times.add("preprocess", spent.preprocess)
        times.add("detect", spent.detect)
        self._last_persons, self._last_items = split_detections(dets, self.detector.person_class_id)
        self.detections_run += 1
        return self._last_persons, self._last_items, True

    def _tamper(self, frame: Frame) -> tuple[str | None, dict[str, Any] | None]:
        if self.tamper is None:
            return None, None
        with self.times.time("tamper"):
            reading = self.tamper.check(frame.image)
        return reading.kind, reading.details()

    def process(self, frame: Frame) -> FrameResult:
        times = self.times
        zones = self._ensure_zones(frame)
        self.frames += 1
        if frame.lead_in and self.evidence.enabled:
            with times.time("evidence"):
                self._buffer_lead_in(frame)
        persons, items, run_detector = self._detections(frame, zones)
        tamper_kind, tamper_details = self._tamper(frame)
        for name, stage in self._person_stages():
            with times.time(name):
                persons = stage(frame, persons)
        with times.time("items"):
            counter = self._counter_items(frame, persons, items)
        with times.time("rules"):
            warming = self._warming(frame, persons)
            self.warmup_frames += warming
            info = FrameInfo(frame.camera_id, frame.index, frame.t, frame.ts, (frame.width, frame.height))
            obs = observe(info, ((z.name, z.kind) for z in zones), persons, counter, self._objects(zones, items),
                          warming=warming, tamper=tamper_kind, tamper_details=tamper_details)
            changes = self.rules.step(obs)
        with times.time("evidence"):
            if self.evidence.enabled:
                self._record(frame, obs, persons, counter)
            changes = [self._with_evidence(c) for c in changes]
        if changes:
            # end_to_end: from the frame leaving the decoder to its violation changes being emitted
            times.add("end_to_end", time.perf_counter() - frame.captured_at)
        self._last_ts = frame.ts
        counts = {name: ZoneCount(s.persons, s.staff, len(s.items)) for name, s in obs.zones.items()}
        # persons: boxes the tracker kept (low-score boxes count only where they continue a track)
        return FrameResult(frame.camera_id, frame.index, frame.t, frame.ts, len(persons), counts, changes,
                           run_detector)

    def _record(self, frame: Frame, obs: Observation, persons: sv.Detections, counter: sv.Detections) -> None:
        rules = [RuleOverlay(st.name, st.elapsed_s, st.rule, st.zone, st.violation_id, st.score)
                 for st in self.rules.active_summary()]
        counts = {name: OverlayCount(z.persons, z.staff) for name, z in obs.zones.items()}
        overlay = Overlay.from_detections(self.camera, persons, counter, counts, frame.width, frame.height, rules)
        self.evidence.add_frame(frame, overlay)
        self._last_overlay = overlay

    def _detect(self, image: np.ndarray, zones: ZoneSet) -> tuple[sv.Detections, DetectTimes]:
        """The detector on the whole frame, or (``detector.roi: zones``) on the zones' region.

        A crop reaches the network at a larger scale than the whole frame would, so a person far
        from the camera is more pixels tall; boxes come back in frame pixels either way.
        """
        region = zones.region() if self.app.detector.roi == "zones" else None
        if region is None:
            return self.detector.detect_timed(image)
        x0, y0, x1, y1 = region
        dets, spent = self.detector.detect_timed(np.ascontiguousarray(image[y0:y1, x0:x1]))
        if len(dets):
            dets.xyxy = dets.xyxy + np.array([x0, y0, x0, y0], dtype=dets.xyxy.dtype)
        return dets, spent

    def _buffer_lead_in(self, frame: Frame) -> None:
        """Source frames between two analysed ones go into the clips with the last overlay (a box
        drawn there lags by at most one analysis interval)."""
        ev = self.evidence
        if not ev.source_fps_known:
            span = (frame.t - frame.lead_in[0].t) if len(frame.lead_in) > 1 else 0.0
            # frames per second from what arrived: the lead-in plus this frame
            estimate = len(frame.lead_in) / span if span > 0 else self.camera.analysis_fps * (1 + len(frame.lead_in))
            ev.set_source_fps(estimate)
        held = self._last_overlay
        for extra in frame.lead_in:
            if held is not None and (extra.width, extra.height) != (frame.width, frame.height):
                held = None
            ev.add_frame(extra, held, analysed=False)

    def _objects(self, zones: ZoneSet, items: sv.Detections) -> sv.Detections:
        """Boxes of the classes a rule watches (cash_escort), with the zones they lie in."""
        carried = self.app.detector.carried_classes
        names = items.data.get("class_name") if len(items) else None
        if not carried or names is None:
            return sv.Detections.empty()
        objects = items[np.asarray([str(n) in carried for n in names], dtype=bool)]
        assert isinstance(objects, sv.Detections)
        return zones.annotate(objects)

    def _with_evidence(self, change: ViolationChange) -> ViolationChange:
        violation = self.evidence.on_change(change)
        return change.model_copy(update={"violation": violation})

    def finish(self) -> list[ViolationChange]:
        """End of stream: close open violations at the last frame, finish the clips."""
        changes: list[ViolationChange] = []
        if self._last_ts is not None:
            changes = [self._with_evidence(c) for c in self.rules.close(self._last_ts)]
        return changes

    def close_evidence(self, timeout: float | None = None) -> list[Violation]:
        self.evidence.close(timeout)
        return self.evidence.finished()

