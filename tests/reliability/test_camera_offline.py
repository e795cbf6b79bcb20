"""camera_offline: a live camera that stops sending frames for ``grace_s`` is a violation record
(zone "camera"), filed while the camera is still silent and ended when its frames return."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.helpers import RtspCamera, StubDetector, require_rtsp_server, wait_for
from vision.config import CameraOfflineRule as OfflineConfig
from vision.config import parse_config
from vision.events import ChangeKind, Violation, ViolationState
from vision.rules import build_rule, build_rules
from vision.rules.camera_offline import CameraOfflineRule
from vision.runner import RunReport, run

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_silence_of_grace_s_files_and_frames_end_it() -> None:
    rule = CameraOfflineRule(OfflineConfig(type="camera_offline", grace_s=30), site_id="b1", camera_id="cam",
                             since=T0)
    assert rule.tick(T0 + timedelta(seconds=29)) == []  # a camera slow to start is not yet offline
    assert rule.frame(T0 + timedelta(seconds=29.5)) == []
    assert rule.tick(T0 + timedelta(seconds=59)) == []
    started = rule.tick(T0 + timedelta(seconds=60))
    assert [c.kind for c in started] == [ChangeKind.started]
    v = started[0].violation
    assert (v.rule, v.zone, v.state, v.started_at) == ("camera_offline", "camera", ViolationState.open,
                                                       T0 + timedelta(seconds=29.5))
    assert rule.tick(T0 + timedelta(seconds=90)) == []  # filed once
    ended = rule.frame(T0 + timedelta(seconds=95))
    assert [c.kind for c in ended] == [ChangeKind.ended]
    e = ended[0].violation
    assert e.id == v.id and e.ended_at == T0 + timedelta(seconds=95) and e.duration_s == pytest.approx(65.5)
    # silent from the open of the stream, then the run stops: ends at the stop, nothing after it
    rule2 = CameraOfflineRule(OfflineConfig(type="camera_offline", grace_s=5), site_id="b1", camera_id="cam",
                              since=T0)
    assert len(rule2.tick(T0 + timedelta(seconds=5))) == 1
    closed = rule2.close(T0 + timedelta(seconds=7))
    assert closed[0].violation.ended_at == T0 + timedelta(seconds=7)
    assert rule2.tick(T0 + timedelta(seconds=60)) == []


def test_config_and_engine(tmp_path: Path) -> None:
    cfg = parse_config("site: {id: b1}\ncameras: [{id: cam, source: 'rtsp://127.0.0.1:9/cam', "
                       "rules: [{type: camera_offline}, {type: camera_tamper}]}]\n", base_dir=tmp_path)
    cam = cfg.cameras[0]
    assert (cam.rules[0].zone, cam.rules[0].grace_s) == ("camera", 30.0)
    rules = build_rules(cfg.site, cam)
    assert [r.type.value for r in rules] == ["camera_tamper"]  # offline is driven by the runner
    with pytest.raises(ValueError, match="driven by the runner"):
        build_rule(cam.rules[0], site_id="b1", camera_id="cam", schedule=None)  # type: ignore[arg-type]


class Collect:
    """A sink that keeps every state it is given, in order."""

    def __init__(self) -> None:
        self.states: list[tuple[float, Violation]] = []

    def publish(self, violation: Violation, evidence: Any = None) -> None:
        self.states.append((time.time(), violation))


@pytest.mark.slow
def test_rtsp_camera_that_stops_is_offline_until_it_returns(tmp_path: Path, footage: Any) -> None:
    require_rtsp_server()
    cam = RtspCamera(footage("bottle-detection.mp4"), tmp_path)
    cam.start()
    cfg = parse_config(
        "site: {id: b1, timezone: Asia/Shanghai}\n"
        f"cameras: [{{id: cam, source: '{cam.url}', analysis_fps: 5, "
        "rules: [{type: camera_offline, grace_s: 3}]}]\n",
        base_dir=tmp_path,
    )
    sink, stop = Collect(), threading.Event()
    frames: list[float] = []
    result: dict[str, RunReport] = {}

    def pipeline() -> None:
        result["r"] = run(cfg, data_dir=tmp_path / "data", clips=False, sinks=[sink], detector=StubDetector(),  # type: ignore[arg-type]
                          motion_gating=False, stop=stop, status_interval_s=None,
                          on_frame=lambda *a: frames.append(time.time()))

    runner = threading.Thread(target=pipeline, daemon=True)
    try:
        runner.start()
        wait_for(lambda: len(frames) >= 10, 20, what="frames from the camera")
        assert sink.states == []  # streaming: not offline
        cam.kill()
        killed_at = time.time()
        wait_for(lambda: any(v.state is ViolationState.open for _, v in sink.states), 15,
                 what="camera_offline filed while the camera is silent")
        filed_at = sink.states[0][0]
        time.sleep(max(0.0, killed_at + 8 - time.time()))
        n = len(frames)
        cam.start()
        back_at = time.time()
        wait_for(lambda: len(frames) > n, 20, what="frames again")
        wait_for(lambda: any(v.state is ViolationState.ended for _, v in sink.states), 5, what="offline ended")
    finally:
        stop.set()
        runner.join(timeout=30)
        cam.close()
    offline = [v for v in result["r"].violations if v.rule == "camera_offline"]
    assert len(offline) == 1
    v = offline[0]
    assert v.zone == "camera" and v.ended_at is not None
    assert abs(v.started_at.timestamp() - killed_at) < 1.5  # the last frame before the silence
    # once grace_s (3 s) of silence had passed: silence starts at the last frame, which may
    # arrive a moment before the kill returns
    assert 3.0 <= filed_at - v.started_at.timestamp() and filed_at - killed_at <= 5.0
    assert 0 <= v.ended_at.timestamp() - back_at <= 10.0  # the first frame back
