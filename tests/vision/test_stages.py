"""The per-frame path's shape: Detections in, the same Detections with a column out; one pure
``observe``; every stage timed on its own; detector timings returned, not left on the detector."""

from __future__ import annotations

import textwrap
import threading
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import supervision as sv

from tests.vision.test_warmup import T0, TwoPeople, frames, pipeline
from vision.batching import BatchingDetector, SharedDetector
from vision.config import DetectorConfig, ZoneKind, parse_config
from vision.detectors.base import Detector, DetectTimes, FrameDetector
from vision.observations import (
    IS_STAFF,
    ZONES,
    FrameInfo,
    ItemObs,
    column,
    item_obs,
    items_as_detections,
    object_obs,
    observe,
)
from vision.pipeline import CameraPipeline


def persons(ids: list[int], zones: list[frozenset[str]], staff: list[bool | None]) -> sv.Detections:
    n = len(ids)
    dets = sv.Detections(xyxy=np.array([[10.0 * i, 0, 10.0 * i + 5, 20] for i in range(n)], np.float32),
                         confidence=np.full(n, 0.75, np.float32), class_id=np.zeros(n, int),
                         tracker_id=np.array(ids, int))
    dets.data[ZONES], dets.data[IS_STAFF] = column(zones), column(staff)
    return dets


def test_observe_counts_each_zone_from_the_columns() -> None:
    desk, hall = frozenset({"desk"}), frozenset({"hall"})
    people = persons([3, 5, 7, -1, 9], [desk, desk, hall, desk, frozenset()], [True, None, False, None, True])
    seen = datetime(2026, 11, 26, 9, 0, 1)
    cash = items_as_detections([ItemObs(1, (1.0, 2.0, 3.0, 4.0), "cash", "desk", seen)])
    obs = observe(FrameInfo("cam", 4, 0.8, T0, (320, 180)),
                  [("desk", ZoneKind.teller_area), ("hall", ZoneKind.customer_area)],
                  people, cash, sv.Detections.empty(), warming=True)
    d, h = obs.zones["desk"], obs.zones["hall"]
    assert (d.persons, d.staff, d.staff_track_ids, d.undecided_track_ids) == (3, 1, (3,), (5, -1))
    assert (h.persons, h.staff, h.non_staff_track_ids) == (1, 0, (7,))
    assert d.items == (ItemObs(1, (1.0, 2.0, 3.0, 4.0), "cash", "desk", seen),) and h.items == ()
    assert [t.track_id for t in obs.tracks] == [3, 5, 7, -1, 9] and obs.tracks[4].zones == frozenset()
    assert obs.tracks[0].xyxy == (0.0, 0.0, 5.0, 20.0) and obs.tracks[0].confidence == 0.75
    assert obs.warming and obs.frame_size == (320, 180) and obs.objects == ()


def test_counter_items_are_their_own_detections_and_come_back_unchanged() -> None:
    seen = datetime(2026, 11, 26, 9, 0, 1)
    found = [ItemObs(2, (10.5, 20.25, 30.125, 40.0), "item", "counter", seen),
             ItemObs(4, (1.0, 1.0, 2.0, 2.0), "cell phone", "counter", seen + timedelta(seconds=3))]
    dets = items_as_detections(found)
    assert len(dets) == 2 and dets.tracker_id.tolist() == [2, 4]
    assert item_obs(dets) == tuple(found)
    assert item_obs(items_as_detections([])) == ()


def test_each_stage_has_its_own_row_and_adds_its_column(tmp_path: Path) -> None:
    p = pipeline(tmp_path, min_staff=1, method="entry")
    for f in frames(0, 5):
        p.process(f)
    rows = p.times.summary()
    for stage in ("preprocess", "detect", "track", "zones", "staff", "items", "rules"):
        assert rows[stage]["count"] == 5, stage
    # the stages by hand: the tracker's id, then the zones, then staff identity
    f = frames(1, 1)[0]
    people, _ = p.detector.detect_timed(f.image)
    for _, stage in p._person_stages():
        people = stage(f, people)
    assert people.tracker_id is not None and (people.tracker_id >= 0).all()
    assert list(people.data[ZONES]) == [frozenset({"desk"})] * 2
    assert all(v in (True, False, None) for v in people.data[IS_STAFF])


class Sleepy(Detector):
    """Spends a known time per stage; each image says which caller sent it (its brightness)."""

    def __init__(self, batched: bool = False) -> None:
        super().__init__(DetectorConfig(confidence=0.01), ["person"], "sleepy")
        self._batched = batched

    @property
    def supports_batch(self) -> bool:
        return self._batched

    def _one(self, image: np.ndarray) -> sv.Detections:
        return sv.Detections(xyxy=np.array([[0, 0, 4, 4]], float), confidence=np.array([image.mean() / 255.0]),
                             class_id=np.array([0]))

    def detect(self, image: np.ndarray) -> sv.Detections:
        return self.detect_timed(image)[0]

    def detect_timed(self, image: np.ndarray) -> tuple[sv.Detections, DetectTimes]:
        return self._one(image), DetectTimes(preprocess=float(image.mean()), detect=1.0)

    def detect_batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        return self.detect_batch_timed(images)[0]

    def detect_batch_timed(self, images: list[np.ndarray]) -> tuple[list[sv.Detections], DetectTimes]:
        return [self._one(i) for i in images], DetectTimes(preprocess=0.0, detect=float(len(images)))


def test_shared_fronts_are_detectors_and_return_each_callers_own_timings() -> None:
    shared = SharedDetector(Sleepy())
    assert isinstance(shared, FrameDetector)
    got: dict[int, DetectTimes] = {}

    def call(v: int) -> None:
        got[v] = shared.detect_timed(np.full((8, 8, 3), v, np.uint8))[1]

    threads = [threading.Thread(target=call, args=(v,)) for v in (10, 20, 30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert got == {v: DetectTimes(float(v), 1.0) for v in (10, 20, 30)}

    batching = BatchingDetector(Sleepy(batched=True), max_batch=2, max_wait_s=0.0)
    try:
        dets, spent = batching.detect_timed(np.full((8, 8, 3), 51, np.uint8))
        assert round(float(dets.confidence[0]) * 255) == 51 and spent == DetectTimes(0.0, 1.0)
    finally:
        batching.close()


def test_objects_a_rule_watches_keep_their_class_and_zones(tmp_path: Path) -> None:
    cfg = parse_config(textwrap.dedent("""\
        site: {id: b1, timezone: Asia/Shanghai}
        cameras:
          - id: cam
            source: rtsp://127.0.0.1/cam
            zones:
              - {name: desk, kind: teller_area, polygon: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}
              - {name: hall, kind: customer_area, polygon: [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}
            rules: [{type: cash_escort, zone: desk, item_classes: [suitcase]}]
        """), base_dir=tmp_path)
    p = CameraPipeline(cfg, cfg.cameras[0], TwoPeople(), data_dir=tmp_path, clips=False)  # type: ignore[arg-type]
    f = frames(0, 1)[0]
    zones = p._ensure_zones(f)
    boxes = sv.Detections(xyxy=np.array([[10, 10, 50, 170], [200, 100, 240, 170]], np.float32),
                          confidence=np.array([0.6, 0.7], np.float32), class_id=np.array([28, 39]),
                          data={"class_name": np.array(["suitcase", "bottle"])})
    got = object_obs(p._objects(zones, boxes))
    assert [(o.label, o.zones) for o in got] == [("suitcase", frozenset({"desk"}))]
    assert got[0].xyxy == (10.0, 10.0, 50.0, 170.0) and abs(got[0].confidence - 0.6) < 1e-6
