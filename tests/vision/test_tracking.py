"""ByteTrack's two thresholds: low-score boxes continue tracks, never start or add one."""

from __future__ import annotations

import numpy as np
import supervision as sv

from vision.tracking import PersonTracker


def dets(*boxes: tuple[float, float, float, float, float]) -> sv.Detections:
    if not boxes:
        return sv.Detections.empty()
    arr = np.array(boxes, dtype=np.float32)
    return sv.Detections(xyxy=arr[:, :4], confidence=arr[:, 4], class_id=np.zeros(len(arr), dtype=int))


TELLER = (100.0, 50.0, 160.0, 200.0)


def run(tracker: PersonTracker, frames: list[sv.Detections], fps: float = 5.0) -> list[sv.Detections]:
    return [tracker.update(d, i / fps) for i, d in enumerate(frames)]


def test_low_score_boxes_keep_a_confirmed_track_alive_with_its_id() -> None:
    tracker = PersonTracker(detector_confidence=0.35, analysis_fps=5.0)
    frames = [dets((*TELLER, 0.8))] * 3 + [dets((*TELLER, 0.2))] * 30  # 6 s seen from behind
    out = run(tracker, frames)
    ids = {int(o.tracker_id[0]) for o in out[2:]}
    assert all(len(o) == 1 for o in out[2:])
    assert len(ids) == 1 and ids.pop() >= 0


def test_without_the_low_box_the_track_is_lost() -> None:
    """The same teller with boxes under low_confidence (not returned by the detector): gone after 3 s."""
    tracker = PersonTracker(detector_confidence=0.35, analysis_fps=5.0)
    out = run(tracker, [dets((*TELLER, 0.8))] * 3 + [dets()] * 30)
    assert len(out[2]) == 1
    assert all(len(o) == 0 for o in out[3:])


def test_low_score_boxes_never_start_a_track_nor_count() -> None:
    """A ghost (a coat on a chair scored 0.25 in every frame) is dropped: no track, no person."""
    tracker = PersonTracker(detector_confidence=0.35, analysis_fps=5.0)
    ghost = (300.0, 60.0, 350.0, 190.0, 0.25)
    out = run(tracker, [dets((*TELLER, 0.8), ghost)] * 20)
    assert all(len(o) == 1 and o.confidence[0] > 0.5 for o in out)
    assert all(int(o.tracker_id[0]) >= 0 for o in out[1:])


def test_a_strong_box_starts_a_track_after_two_frames() -> None:
    tracker = PersonTracker(detector_confidence=0.35, analysis_fps=5.0)
    out = run(tracker, [dets((*TELLER, 0.4))] * 3)
    assert [int(o.tracker_id[0]) for o in out][0] == -1  # counted, not yet confirmed
    assert int(out[1].tracker_id[0]) >= 0
