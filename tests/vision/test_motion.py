"""Motion gating: change is measured per zone and around the last person boxes, so a person
leaving or arriving is noticed on the next analysed frame (within 1 s), while still frames with
sensor noise skip the detector."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
import supervision as sv

from vision.config import MotionConfig, ZoneConfig
from vision.frames import Frame
from vision.motion import MotionGate

W, H, FPS = 640, 360, 5.0
T0 = datetime(2026, 11, 26, 9, 0)
TELLER = (568, 156, 576, 176)  # a far-off seated teller (8 x 20 px) in a small zone at the right edge
CUSTOMER = (200, 100, 250, 300)


def zones() -> list[ZoneConfig]:
    return [
        ZoneConfig(name="hall", kind="customer_area", polygon=[(0.0, 0.0), (0.82, 0.0), (0.82, 1.0), (0.0, 1.0)]),
        ZoneConfig(name="teller", kind="teller_area", polygon=[(0.85, 0.35), (0.97, 0.35), (0.97, 0.75), (0.85, 0.75)]),
    ]


class Scene:
    def __init__(self, seed: int = 1) -> None:
        self.rng = np.random.default_rng(seed)
        self.background = self.rng.integers(60, 200, (H // 8, W // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)

    def frame(self, i: int, people: list[tuple[int, int, int, int]]) -> Frame:
        image = self.background.astype(np.int16) + self.rng.normal(0, 3, self.background.shape).astype(np.int16)
        for x0, y0, x1, y1 in people:
            image[y0:y1, x0:x1] = (30, 30, 40)
        t = i / FPS
        return Frame("cam", i, t, T0 + timedelta(seconds=t), np.clip(image, 0, 255).astype(np.uint8))


def boxes(people: list[tuple[int, int, int, int]]) -> sv.Detections:
    if not people:
        return sv.Detections.empty()
    return sv.Detections(xyxy=np.array(people, np.float32), confidence=np.full(len(people), 0.9, np.float32),
                         class_id=np.zeros(len(people), int))


def drive(gate: MotionGate, script: list[list[tuple[int, int, int, int]]]) -> list[bool]:
    """Frames showing ``script[i]``; the 'detector' returns exactly who is in view when it runs."""
    scene, last, out = Scene(), sv.Detections.empty(), []
    for i, people in enumerate(script):
        run = gate.should_detect(scene.frame(i, people), last)
        if run:
            last = boxes(people)
        out.append(run)
    return out


@pytest.mark.parametrize("event", ["exit", "arrival"])
def test_teller_exit_and_arrival_are_seen_on_the_next_frame(event: str) -> None:
    gate = MotionGate(MotionConfig(max_skip_s=60), zones())
    before, after = ([CUSTOMER, TELLER], [CUSTOMER]) if event == "exit" else ([CUSTOMER], [CUSTOMER, TELLER])
    script = [before] * 15 + [after] * 10  # the change happens at t = 3.0 s
    runs = drive(gate, script)
    assert runs[0] and not any(runs[1:15]), "still frames with sensor noise must skip the detector"
    first = 15 + runs[15:].index(True)
    assert (first - 15) / FPS < 1.0
    assert first == 15


def test_whole_frame_share_would_have_missed_the_exit() -> None:
    """As a share of everything the zones cover, the far-off teller leaving is below the threshold
    (what the gate used to measure); as a share of the teller zone it is plain."""
    gate = MotionGate(MotionConfig(max_skip_s=60), zones())
    scene = Scene()
    a, b = scene.frame(0, [CUSTOMER, TELLER]), scene.frame(1, [CUSTOMER])
    changed = np.abs(gate._small(a.image).astype(int) - gate._small(b.image).astype(int)) > 18
    watched = np.zeros(changed.shape, bool)
    for r in gate._zones_for(changed.shape):
        assert r.mask is not None
        watched |= r.mask
    assert np.count_nonzero(changed & watched) / np.count_nonzero(watched) < gate.config.threshold
    assert gate.should_detect(a, sv.Detections.empty())
    assert gate.should_detect(b, boxes([CUSTOMER, TELLER]))
    assert gate.last_region in ("zone:teller", "person:1") and gate.last_motion > 0.01


def test_person_outside_every_zone_moving_is_seen_around_their_box() -> None:
    gate = MotionGate(MotionConfig(max_skip_s=60), [zones()[1]])  # only the small teller zone
    walker = [(100 + 4 * i, 120, 140 + 4 * i, 230) for i in range(12)]
    runs = drive(gate, [[walker[0]]] * 5 + [[w] for w in walker])
    assert not any(runs[1:5]) and any(runs[5:10])


def test_detector_still_runs_every_max_skip_s() -> None:
    gate = MotionGate(MotionConfig(max_skip_s=1.0), zones())
    runs = drive(gate, [[CUSTOMER]] * 16)
    assert [i for i, r in enumerate(runs) if r] == [0, 5, 10, 15]
    assert gate.checked == 16 and gate.skipped == 12


@pytest.mark.slow
def test_bench_reports_the_gate_cost_and_the_detector_runs_it_saves(tmp_path, footage) -> None:
    import json

    from tests.reliability.helpers import still_clip
    from tests.vision.test_cli import tellerwatch

    clip = still_clip(footage("bottle-detection.mp4"), tmp_path / "still.mp4", seconds=6.0)
    cfg = tmp_path / "site.yaml"
    cfg.write_text(
        "site: {id: b1}\n"
        f"cameras: [{{id: cam, source: {clip}, analysis_fps: 5, motion: {{max_skip_s: 2}},\n"
        "  zones: [{name: counter, kind: counter, polygon: [[0.1, 0.3], [0.9, 0.3], [0.9, 0.9], [0.1, 0.9]]}]}]\n",
        encoding="utf-8",
    )
    r = tellerwatch("bench", str(cfg), "--no-clips", "--json", str(tmp_path / "bench.json"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    result = json.loads((tmp_path / "bench.json").read_text())
    m = result["motion"]
    assert result["frames"] == 30 and m["frames_checked"] == 30
    # a still picture: the detector runs on the first frame and then once every max_skip_s
    assert result["detector_runs"] == 3 and m["detector_runs_saved"] == 27
    assert m["gate_total_s"] > 0 and m["detector_s_saved"] > 0
    # staff identity and the counter items have their own rows, on every analysed frame
    assert result["stages"]["staff"]["count"] == 30 and result["stages"]["items"]["count"] == 30
    text = " ".join(r.stdout.split())
    assert "motion gate:" in text and "detector runs saved 27 of 30 (90.0%)" in text
