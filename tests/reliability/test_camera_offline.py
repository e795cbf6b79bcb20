"""camera_offline: a live camera that stops sending frames for ``grace_s`` is a violation record
(zone "camera"), filed while the camera is still silent and ended when its frames return; a
recording whose frame times jump by ``grace_s`` or more (video loss in an NVR file) is one in
media time, from the last frame before the hole to the first one after it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
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


# ----------------------------------------------------------------------------- recordings: media time
def test_recording_is_stepped_in_media_time() -> None:
    rule = CameraOfflineRule(OfflineConfig(type="camera_offline", grace_s=5), site_id="b1", camera_id="cam",
                             since=None)
    assert rule.tick(T0) == []  # no frame yet: a recording's time starts at its first frame
    assert rule.step(T0) == [] and rule.step(T0 + timedelta(seconds=4.9)) == []  # a 4.9 s hole: nothing
    changes = rule.step(T0 + timedelta(seconds=9.9))  # a 5 s hole: filed and ended at once
    assert [c.kind for c in changes] == [ChangeKind.started, ChangeKind.ended]
    e = changes[1].violation
    assert (e.started_at, e.ended_at, e.duration_s) == (T0 + timedelta(seconds=4.9), T0 + timedelta(seconds=9.9), 5.0)
    assert rule.open_violation is None and rule.step(T0 + timedelta(seconds=10)) == []


def write_recording(path: Path, times: list[float], fps: int = 10) -> Path:
    """An H.264 MP4 whose frames carry these presentation times (an NVR file with holes): the
    first frame after a hole is a key frame, as a recorder starts again with one."""
    import av

    tb = Fraction(1, fps)
    with av.open(str(path), "w", format="mp4") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = 160, 96, "yuv420p"
        s.time_base = s.codec_context.time_base = tb
        s.options = {"bf": "2", "g": "50", "threads": "1"}
        prev = None
        for t in times:
            pts = round(t * fps)
            frame = av.VideoFrame.from_ndarray(np.full((96, 160, 3), (pts * 5) % 200, np.uint8), format="bgr24")
            frame.pts, frame.time_base = pts, tb
            if prev is not None and pts - prev > 1:
                frame.pict_type = av.video.frame.PictureType.I
            prev = pts
            for packet in s.encode(frame):
                out.mux(packet)
        for packet in s.encode(None):
            out.mux(packet)
    return path


def run_recording(tmp_path: Path, times: list[float], grace_s: float, *, clips: bool = False,
                  analysis_fps: float = 5) -> RunReport:
    tmp_path.mkdir(parents=True, exist_ok=True)
    video = write_recording(tmp_path / "nvr.mp4", times)
    cfg = parse_config(
        "site: {id: b1, timezone: Asia/Shanghai}\n"
        f"cameras: [{{id: cam, source: nvr.mp4, analysis_fps: {analysis_fps:g}, "
        "replay_start: '2026-11-25T10:00:00+08:00', "
        f"rules: [{{type: camera_offline, grace_s: {grace_s:g}}}]}}]\n",
        base_dir=video.parent,
    )
    return run(cfg, data_dir=tmp_path / "data", clips=clips, detector=StubDetector(),  # type: ignore[arg-type]
               motion_gating=False, status_interval_s=None)


def _seconds(r: RunReport, v: Violation) -> tuple[float, float]:
    cam = r.cameras[v.camera]
    assert v.ended_at is not None
    return round(cam.seconds(v.started_at), 3), round(cam.seconds(v.ended_at), 3)


def test_file_with_a_hole_of_grace_s_or_more_is_offline_in_media_time(tmp_path: Path) -> None:
    # 0.0-10.0 s, 12 s of video loss, 22.0-29.9 s
    times = [i / 10 for i in range(0, 101)] + [i / 10 for i in range(220, 300)]
    t0 = time.monotonic()
    r = run_recording(tmp_path, times, grace_s=5)
    assert time.monotonic() - t0 < 10  # the hole is not slept through
    (v,) = r.violations
    assert (v.rule, v.zone, v.state, v.camera) == ("camera_offline", "camera", ViolationState.ended, "cam")
    assert _seconds(r, v) == (10.0, 22.0) and v.duration_s == pytest.approx(12.0)
    assert v.started_at == datetime.fromisoformat("2026-11-25T10:00:10+08:00")
    assert v.details["last_frame_at"] == v.started_at.isoformat()
    assert [(g.started, g.ended) for g in r.cameras["cam"].gaps] == [(v.started_at, v.ended_at)]
    # nothing fills the hole: the analysed frames jump from 10.0 to 22.0 s
    assert r.cameras["cam"].frames == 51 + 40


def test_last_frame_before_the_hole_is_exact_where_clips_keep_every_frame(tmp_path: Path) -> None:
    # at 2 fps the last frame before the hole (4.9 s) is not analysed; clips carry it as lead-in
    times = [i / 10 for i in range(0, 50)] + [i / 10 for i in range(120, 160)]
    sampled = run_recording(tmp_path / "a", times, grace_s=5, analysis_fps=2)
    every = run_recording(tmp_path / "b", times, grace_s=5, analysis_fps=2, clips=True)
    assert [_seconds(sampled, v) for v in sampled.violations] == [(4.5, 12.0)]
    assert [_seconds(every, v) for v in every.violations] == [(4.9, 12.0)]


def test_file_with_a_hole_shorter_than_grace_s_files_nothing(tmp_path: Path) -> None:
    times = [i / 10 for i in range(0, 101)] + [i / 10 for i in range(148, 200)]  # a 4.8 s hole
    r = run_recording(tmp_path, times, grace_s=5)
    assert r.violations == [] and r.cameras["cam"].gaps == []
    assert r.cameras["cam"].frames > 70  # it did read past the hole
