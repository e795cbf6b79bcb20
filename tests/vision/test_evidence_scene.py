"""Evidence on a whole sample scene with the embedded default detector: clips at the source's
frame rate (every decoded frame, not only the analysed ones) and snapshots from after the grace."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import av
import cv2
import pytest

from vision.config import load_config
from vision.runner import run

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / "sample_videos" / "scenes" / "busy_counter.yaml"


def fps_of(path: Path) -> tuple[int, float]:
    """Frames decoded and the stream's duration, read back with PyAV."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = sum(1 for _ in c.decode(stream))
        assert stream.duration is not None and stream.time_base is not None
        return frames, float(stream.duration * stream.time_base)


@pytest.mark.slow
def test_busy_counter_clips_at_source_rate_and_snapshots_after_grace(tmp_path: Path) -> None:
    app = load_config(SCENE)
    cam = app.cameras[0]
    assert cam.analysis_fps == 5  # the scene is 10 fps: half its frames are never analysed
    report = run(app, data_dir=tmp_path, status_interval_s=None)
    violations = report.violations
    assert {v.rule for v in violations} == {"dual_teller", "unattended_items", "non_staff_in_area"}
    for v in violations:
        assert "evidence_error" not in v.details, v.details
        assert v.clip and v.snapshot and v.ended_at is not None
        for rel in (v.clip, v.details["clip_annotated"]):
            frames, duration = fps_of(tmp_path / rel)
            assert frames / duration == pytest.approx(10.0, abs=0.05), (v.rule, rel, frames, duration)
        assert v.details["clip_frames"] == frames
        assert v.details["clip_pre_s"] == pytest.approx(5.0, abs=0.1)
        rule = next(r for r in cam.rules if r.type == v.rule and r.zone == v.zone)
        snapshot_at = datetime.fromisoformat(v.details["snapshot_at"])
        grace_end = v.started_at + timedelta(seconds=rule.grace_s)
        assert grace_end <= snapshot_at <= v.ended_at, (v.rule, v.started_at, snapshot_at, v.ended_at)
        snap = cv2.imread(str(tmp_path / v.snapshot))
        assert snap is not None and snap.shape == (720, 1280, 3)
