"""Tailgating on real footage: a worker walks up the floor of worker-zone-detection.gif through a
door zone drawn where his feet pass. Alone he is one passage; beside a second real walker (the
same clip, mirrored and half a second later, side by side) the pair is a tailgating violation
from the first entry to the last exit. Skips where ../shared is absent."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from benchmarks.footage import read_frames
from vision.config import parse_config
from vision.detectors import build_detector
from vision.events import ChangeKind, ViolationChange
from vision.frames import Frame
from vision.pipeline import CameraPipeline

FPS = 16.7  # the gif's frame rate
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
# the band of floor the worker's feet cross on his way up the picture, as wide as the frame
DOOR = "[[0.02, 0.8], [0.98, 0.8], [0.98, 1.0], [0.02, 1.0]]"


def run_door(frames: list[np.ndarray], model: Path, data_dir: Path) -> list[ViolationChange]:
    text = textwrap.dedent(f"""\
        site: {{id: branch-1, business_hours: {{daily: ["00:00-24:00"]}}}}
        detector: {{type: yolox-onnx, model: {model}, confidence: 0.35}}
        cameras:
          - id: door-1
            source: unused.mp4
            analysis_fps: {FPS}
            motion: {{enabled: false}}
            staff: {{method: nobody}}
            zones:
              - {{name: door, kind: door, polygon: {DOOR}}}
            rules:
              - {{type: tailgating, zone: door, window_s: 3, max_persons: 1}}
        """)
    app = parse_config(text, base_dir=data_dir, check_files=False)
    pipe = CameraPipeline(app, app.cameras[0], build_detector(app.detector), data_dir=data_dir, clips=False)
    changes: list[ViolationChange] = []
    for i, image in enumerate(frames):
        changes += pipe.process(Frame("door-1", i, i / FPS, T0 + timedelta(seconds=i / FPS), image)).changes
    return changes + pipe.finish()


@pytest.fixture(scope="module")
def worker() -> list[np.ndarray]:
    path = Path(__file__).resolve().parents[2].parent / "shared" / "footage" / "worker-zone-detection.gif"
    if not path.is_file():
        pytest.skip(f"{path} is absent (real footage lives in ../shared beside the repository)")
    return read_frames(path)


@pytest.fixture
def model(shared_model: Callable[[str], Path]) -> Path:
    return shared_model("yolox_nano_416x416.onnx")


def test_one_worker_through_the_door_is_no_tailgating(worker, model, tmp_path) -> None:
    assert run_door(worker, model, tmp_path) == []


def test_a_pair_through_the_door_is_tailgating_from_first_entry_to_last_exit(worker, model, tmp_path) -> None:
    lag = 8  # half a second
    pair = [np.hstack([worker[i], worker[max(i - lag, 0)][:, ::-1]]) for i in range(len(worker))]
    changes = run_door(pair, model, tmp_path)
    ended = [c.violation for c in changes if c.kind is ChangeKind.ended]
    assert len(ended) == 1, [(c.kind, c.violation.details) for c in changes]
    v = ended[0]
    assert v.rule == "tailgating" and v.details["persons"] == 2 and len(v.track_ids) == 2
    last_frame = T0 + timedelta(seconds=(len(pair) - 1) / FPS)
    assert v.started_at <= T0 + timedelta(seconds=1.0)  # both were in the doorway within the first second
    assert v.ended_at is not None and v.ended_at < last_frame  # ended when the last of them left the zone
