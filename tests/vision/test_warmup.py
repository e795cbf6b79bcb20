"""Warm-up: no rule judges a zone empty or short of staff before the tracker has confirmed the
people in view, after the stream starts and after it comes back from a gap.

The unit tests drive ``CameraPipeline`` with a detector that sees fixed people; the footage test
runs ``tellerwatch run`` with the embedded default detector over every clip in ../shared/footage
with rules whose condition does not hold at the start (``grace_s: 0``, so a single frame that
counted a zone short would file a violation).
"""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.vision.test_cli import tellerwatch
from vision.config import parse_config
from vision.detectors.base import DetectTimes
from vision.frames import Frame
from vision.pipeline import CameraPipeline

T0 = datetime.fromisoformat("2026-11-26T09:00:00+08:00")


class TwoPeople:
    name = "fixed"
    class_names = ["person"]
    person_class_id = 0

    def detect_timed(self, image: np.ndarray) -> tuple[sv.Detections, DetectTimes]:
        return self.detect(image), DetectTimes()

    def detect(self, image: np.ndarray) -> sv.Detections:
        h, w = image.shape[:2]
        return sv.Detections(
            xyxy=np.array([[0.1 * w, 0.2 * h, 0.3 * w, 0.9 * h], [0.6 * w, 0.2 * h, 0.8 * w, 0.9 * h]], np.float32),
            confidence=np.array([0.9, 0.9], np.float32),
            class_id=np.array([0, 0]),
        )


def pipeline(tmp_path: Path, min_staff: int, method: str = "everyone") -> CameraPipeline:
    cfg = parse_config(textwrap.dedent(f"""\
        site: {{id: b1, timezone: Asia/Shanghai}}
        cameras:
          - id: cam
            source: rtsp://127.0.0.1/cam
            analysis_fps: 5
            motion: {{enabled: false}}
            staff: {{method: {method}}}
            zones: [{{name: desk, kind: teller_area, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}}]
            rules: [{{type: dual_teller, zone: desk, min_staff: {min_staff}, grace_s: 0, clear_s: 1, when: always}}]
        """), base_dir=tmp_path)
    return CameraPipeline(cfg, cfg.cameras[0], TwoPeople(), data_dir=tmp_path, clips=False)  # type: ignore[arg-type]


def frames(start_s: float, n: int) -> list[Frame]:
    image = np.zeros((180, 320, 3), np.uint8)
    return [Frame("cam", i, start_s + i * 0.2, T0 + timedelta(seconds=start_s + i * 0.2), image) for i in range(n)]


@pytest.mark.parametrize("method", ["everyone", "entry"])
def test_no_shortage_while_the_tracker_confirms_the_people_in_view(tmp_path: Path, method: str) -> None:
    p = pipeline(tmp_path, min_staff=2, method=method)
    changes = [c for f in frames(0, 20) for c in p.process(f).changes]
    assert changes == []
    assert 1 <= p.warmup_frames <= p.tracker.min_consecutive + p.camera.staff.min_evidence + 1
    # the stream comes back after a 10 s outage (every track lost): the same holds again
    p.restart_warmup()
    warm_before = p.warmup_frames
    changes = [c for f in frames(10, 20) for c in p.process(f).changes]
    assert changes == [] and p.warmup_frames > warm_before


def test_a_real_shortage_is_still_filed_after_the_warm_up(tmp_path: Path) -> None:
    p = pipeline(tmp_path, min_staff=3)
    changes = [c for f in frames(0, 10) for c in p.process(f).changes]
    started = [c.violation for c in changes if c.kind.value == "started"]
    assert len(started) == 1
    v = started[0]
    # it begins once the people in view are confirmed (the second frame), and saw both of them
    assert v.started_at == T0 + timedelta(seconds=0.2) and v.details["min_staff_seen"] == 2


def test_without_warm_up_the_first_frame_would_count_the_desk_empty(tmp_path: Path) -> None:
    """What the warm-up prevents: on the first frame the tracker has not confirmed anyone yet."""
    p = pipeline(tmp_path, min_staff=2)
    result = p.process(frames(0, 1)[0])
    assert result.zones["desk"].persons == 2 and result.zones["desk"].staff == 0


FULL = "[[0, 0], [1, 0], [1, 1], [0, 1]]"
CLIPS: dict[str, tuple[str, str, str]] = {
    # clip: (staff method, zones, rules) whose conditions do not hold at the start of the clip
    "classroom.gif": (
        "everyone",
        "{name: desks_left, kind: teller_area, polygon: [[0.05, 0.45], [0.42, 0.45], [0.42, 0.85], [0.05, 0.85]]},"
        "{name: desks_right, kind: teller_area, polygon: [[0.42, 0.45], [0.80, 0.45], [0.80, 0.85], [0.42, 0.85]]},"
        "{name: front_desk, kind: counter, polygon: [[0.44, 0.80], [0.80, 0.80], [0.80, 0.99], [0.44, 0.99]]}",
        "{type: dual_teller, zone: desks_left, min_staff: 2, grace_s: 0, when: always},"
        "{type: dual_teller, zone: desks_right, min_staff: 2, grace_s: 0, when: always},"
        "{type: unattended_items, zone: front_desk, attended_by: desks_right, grace_s: 0, when: always}",
    ),
    "worker-zone-detection.gif": (
        "everyone",
        f"{{name: floor, kind: teller_area, polygon: {FULL}}}",
        "{type: dual_teller, zone: floor, min_staff: 1, grace_s: 0, when: always}",
    ),
    "bottle-detection.mp4": (
        "nobody",
        f"{{name: staff_side, kind: teller_area, polygon: {FULL}}},"
        "{name: counter, kind: counter, polygon: [[0.05, 0.3], [0.95, 0.3], [0.95, 0.95], [0.05, 0.95]]}",
        "{type: non_staff_in_area, zone: staff_side, grace_s: 0, when: always},"
        "{type: unattended_items, zone: counter, attended_by: staff_side, grace_s: 0, when: always}",
    ),
}
FIRST_S = 2.0


@pytest.mark.slow
@pytest.mark.parametrize("clip", list(CLIPS))
def test_no_violation_in_the_first_seconds_of_real_clips(tmp_path: Path, footage: Any, clip: str) -> None:
    source = footage(clip)
    method, zones, rules = CLIPS[clip]
    cfg = tmp_path / "site.yaml"
    cfg.write_text(textwrap.dedent(f"""\
        site: {{id: b1, timezone: Asia/Shanghai}}
        cameras:
          - id: cam
            source: {source}
            replay_start: "2026-11-26T09:00:00+08:00"
            analysis_fps: 5
            staff: {{method: {method}}}
            zones: [{zones}]
            rules: [{rules}]
        """), encoding="utf-8")
    r = tellerwatch("run", str(cfg), "--no-clips", "--max-seconds", "6", "--events-jsonl", str(tmp_path / "ev.jsonl"),
                    "--frames-jsonl", str(tmp_path / "fr.jsonl"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    frames_out = [json.loads(x) for x in (tmp_path / "fr.jsonl").read_text().splitlines()]
    assert frames_out and frames_out[0]["t"] == 0.0
    events = [json.loads(x) for x in (tmp_path / "ev.jsonl").read_text().splitlines()]
    early = [e for e in events if (datetime.fromisoformat(e["started_at"]) - T0).total_seconds() < FIRST_S]
    assert early == [], early
