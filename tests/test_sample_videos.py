"""The committed sample scenes: reproducible, valid configs and ground truth, people detectable.

The generator must remake the committed bytes exactly (one short scene is re-rendered here); every
committed config must load; every ground-truth file must parse and name this scene's camera, zones
and rules; and the embedded SSD detector must find the people in sampled frames of each video.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENE_DIR = ROOT / "sample_videos" / "scenes"
SCENE_NAMES = ["two_tellers", "teller_leaves", "cash_left", "walk_in", "after_hours", "busy_counter", "tailgating",
               "night_entry", "cash_on_counter", "camera_tamper", "cash_escort",
               "camera_offline"]
REPRO_SCENE = "after_hours"  # the quickest to render: one person, 28 s


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_scene_list_matches_generator():
    scenes = pytest.importorskip("sample_videos.scenes")
    assert [s.name for s in scenes.SCENES] == SCENE_NAMES


@pytest.mark.parametrize("name", SCENE_NAMES)
def test_committed_files_match_manifest(name):
    manifest = json.loads((SCENE_DIR / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest[name]
    assert 20 <= entry["duration_s"] <= 60
    for filename, meta in entry["files"].items():
        path = SCENE_DIR / filename
        assert path.is_file(), f"{path} is missing"
        assert path.stat().st_size == meta["bytes"]
        assert _sha(path) == meta["sha256"], f"{path} differs from manifest.json; regenerate the scenes"


def test_committed_videos_are_small():
    total = sum(p.stat().st_size for p in SCENE_DIR.glob("*.mp4"))
    assert total < 6_000_000, f"sample videos take {total / 1e6:.1f} MB; keep them under 6 MB"


def test_regenerating_a_scene_reproduces_the_committed_bytes(tmp_path):
    pytest.importorskip("av")
    pytest.importorskip("cv2")
    from sample_videos.generate import render_scene
    from sample_videos.scenes import BY_NAME

    rendered = render_scene(BY_NAME[REPRO_SCENE], tmp_path)
    for fresh in rendered.files.values():
        committed = SCENE_DIR / fresh.name
        assert _sha(fresh) == _sha(committed), (
            f"{fresh.name} rendered now differs from the committed file: the generator is not "
            "deterministic here, or the scenes were not regenerated after a change "
            "(python -m sample_videos.generate)"
        )


@pytest.mark.parametrize("name", SCENE_NAMES)
def test_config_validates(name):
    from vision.config import ZoneKind, load_config

    cfg = load_config(SCENE_DIR / f"{name}.yaml")
    (cam,) = cfg.cameras
    assert cam.id == name
    assert Path(str(cam.source)).is_file()
    assert cam.replay_start is not None
    kinds = {z.kind for z in cam.zones}
    assert {ZoneKind.teller_area, ZoneKind.counter, ZoneKind.customer_area, ZoneKind.door} <= kinds
    hour = cam.replay_start.hour
    assert (hour >= 17) if name in ("after_hours", "night_entry") else (8 <= hour < 12)


@pytest.mark.parametrize("name", SCENE_NAMES)
def test_ground_truth_parses_and_matches_config(name):
    from vision.config import load_config
    from vision.evaluate import load_truth

    truth = load_truth(SCENE_DIR / f"{name}.json")
    cam = load_config(SCENE_DIR / f"{name}.yaml").cameras[0]
    rules = {(r.type, r.zone) for r in cam.rules}
    duration = json.loads((SCENE_DIR / f"{name}.json").read_text(encoding="utf-8"))["duration_s"]
    assert truth.tolerance_s == 3
    for v in truth.violations:
        assert v.camera == name
        assert (v.rule, v.zone) in rules, f"{v.rule} on {v.zone} is not a rule of {name}.yaml"
        assert 0 <= v.start_s < v.end_s <= duration
    expected_rules = {
        "two_tellers": set(),
        "teller_leaves": {"dual_teller"},
        "cash_left": {"dual_teller", "unattended_items"},
        "walk_in": {"non_staff_in_area"},
        "after_hours": {"non_staff_in_area", "intrusion"},
        "busy_counter": {"dual_teller", "unattended_items", "non_staff_in_area"},
        "tailgating": {"tailgating"},
        "night_entry": {"intrusion"},
        "cash_on_counter": {"unattended_items"},
        "camera_tamper": {"camera_tamper"},
        "cash_escort": {"cash_escort"},
        "camera_offline": {"camera_offline"},
    }[name]
    assert {v.rule for v in truth.violations} == expected_rules
    if name == "camera_tamper":
        assert [(v.kind, v.start_s, v.end_s) for v in truth.violations] == [("covered", 8.0, 18.0),
                                                                            ("moved", 18.0, 29.9)]
    if name == "cash_escort":
        # the box brought in alone, from when it reaches the route until it leaves it; the escorted one
        # (20 s on) is not a violation
        assert [(v.zone, v.start_s, v.end_s) for v in truth.violations] == [("cash_route", 6.3, 16.2)]
    if name == "camera_offline":
        assert [(v.zone, v.start_s, v.end_s) for v in truth.violations] == [("camera", 10.0, 22.0)]


def test_video_loss_is_a_hole_in_the_recorded_times():
    """The camera_offline scene's file has no frames between 10.0 and 22.0 s: its time stamps jump
    (what the file source must see, and what nothing may fill), and the frame after the hole is a
    key frame."""
    import av

    with av.open(str(SCENE_DIR / "camera_offline.mp4")) as container:
        frames = [(round(float(f.time), 3), f.key_frame) for f in container.decode(video=0)]
    times = [t for t, _ in frames]
    assert len(frames) == 201 and times[0] == 0.0 and times[-1] == 31.9
    i = times.index(10.0)
    assert frames[i + 1] == (22.0, True)
    assert all(round(b - a, 3) == 0.1 for a, b in zip(times, times[1:], strict=False) if a != 10.0)


def _sampled_frames(video: Path, every: int, fps: int):
    import av

    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % every == 0:  # by the frame's own time: a recording may have holes
                yield round(float(frame.time) * fps), frame.to_ndarray(format="bgr24")


@pytest.fixture(scope="module")
def person_detector():
    pytest.importorskip("cv2")
    pytest.importorskip("av")
    ssd = pytest.importorskip("sample_videos.ssd")
    try:
        return ssd.PersonDetector(confidence=0.4)
    except ImportError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("name", SCENE_NAMES)
def test_detector_finds_the_people(name, person_detector):
    from sample_videos.generate import stamp_for
    from sample_videos.scenes import BY_NAME, FPS
    from sample_videos.ssd import matched

    scene = BY_NAME[name]
    stage = scene.build()
    found = total = 0
    seen: dict[str, int] = {}
    for i, bgr in _sampled_frames(SCENE_DIR / f"{name}.mp4", every=2 * FPS, fps=FPS):
        t = i / FPS
        if scene.view(t) is not None:
            continue  # the lens covered or the camera knocked aside: nobody is where the script drew them
        _, drawn = stage.compose(t, stamp_for(scene, t))
        truth = [d for d in drawn if d.full_view and d.box is not None]
        if not truth:
            continue
        hits = matched(np.array([d.box for d in truth], float), person_detector.persons(bgr)[:, :4])
        found += int(hits.sum())
        total += len(truth)
        for d, h in zip(truth, hits, strict=True):
            seen[d.name] = seen.get(d.name, 0) + int(h)
    assert total > 0
    assert found / total >= 0.9, f"{name}: SSD found {found} of {total} people in sampled frames"
    missing = [who for who, n in seen.items() if n == 0]
    assert not missing, f"{name}: never found {missing}"


def test_detector_finds_the_cash_box():
    """The drawn cash box of ``cash_escort`` is a ``suitcase`` to the embedded SSD on every sampled
    frame where it is on the route (the rule watches nothing else): without that the scene's
    violation would be the detector's luck."""
    pytest.importorskip("cv2")
    pytest.importorskip("av")
    from sample_videos.generate import stamp_for
    from sample_videos.scenes import BY_NAME, FPS, _inside
    from sample_videos.ssd import iou
    from vision.config import DetectorConfig
    from vision.detectors import build_detector
    from vision.errors import ModelLoadError

    try:
        det = build_detector(DetectorConfig(confidence=0.4, item_classes=["suitcase"]))
    except ModelLoadError as exc:
        pytest.skip(str(exc))
    scene = BY_NAME["cash_escort"]
    stage = scene.build()
    found = total = 0
    for i, bgr in _sampled_frames(SCENE_DIR / "cash_escort.mp4", every=FPS // 2, fps=FPS):
        t = i / FPS
        _, drawn = stage.compose(t, stamp_for(scene, t))
        for d in drawn:
            if d.case is None or not _inside("cash_route", d.case):
                continue
            dets = det.detect(bgr)
            cases = np.array([box for box, name in zip(dets.xyxy, dets.data["class_name"], strict=True)
                              if name == "suitcase"]).reshape(-1, 4)
            total += 1
            found += int(iou(np.array([d.case], float), cases).max(initial=0.0) >= 0.3)
    assert total >= 25, total
    assert found == total, f"SSD found the cash box on {found} of {total} sampled frames on the route"
