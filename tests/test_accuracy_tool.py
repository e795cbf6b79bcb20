"""benchmarks/accuracy.py: its labels and its one-pass threshold sweep."""

from __future__ import annotations

import av
import numpy as np
import pytest

from benchmarks.accuracy import CASES, CachedDetector, Tally, count_labels, merge
from vision.config import DetectorConfig
from vision.detectors import build_detector


def test_count_labels_cover_every_clip_and_leave_out_hand_frames() -> None:
    labels = dict(count_labels(CASES))
    assert {t.footage.name for t in labels.values()} == {
        "classroom.gif", "worker-zone-detection.gif", "bottle-detection.mp4"}
    bottle = labels["bottle_counter"]
    assert bottle.persons(0) == 0 and bottle.persons(180) is None and bottle.stride == 10
    assert labels["classroom_desks"].persons(44) == 4


def test_tally_and_merge() -> None:
    t = Tally(tp=8, fp=2, fn=0)
    assert (t.precision, t.recall) == (0.8, 1.0)
    a = {"command": "a", "detectors": [{"name": "x"}], "anchors": {"rows": []}}
    b = {"command": "b", "detectors": [{"name": "y"}], "roi": {"rows": []}}
    out = merge([a, b])
    assert [d["name"] for d in out["detectors"]] == ["x", "y"] and "anchors" in out and "roi" in out


@pytest.mark.slow
def test_cached_sweep_gives_what_a_detector_at_that_threshold_gives(footage) -> None:
    """Run once at 0.15, filter at 0.5: the same persons as the embedded SSD run at 0.5."""
    with av.open(str(footage("classroom.gif"))) as c:
        image = next(c.decode(video=0)).to_ndarray(format="bgr24")
    low = CachedDetector(build_detector(DetectorConfig(confidence=0.15, low_confidence=0.15)), {})
    direct = build_detector(DetectorConfig(confidence=0.5, low_confidence=0.5)).detect(image)
    swept = low.with_thresholds(0.5, 0.5).detect(image)
    np.testing.assert_allclose(swept.xyxy, direct.xyxy, atol=1e-3)
    assert low.with_thresholds(0.2, 0.2).detect(image) is not None and low.calls == 1  # one inference
