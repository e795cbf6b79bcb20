"""camera_tamper: a covered lens, a view knocked aside, a defocused picture; never people walking
through, never the untouched clips in ../shared/footage; the other rules pause meanwhile.

The pipeline tests drive ``CameraPipeline`` with detectors that see fixed people (or nobody), so
what is checked is the tamper stage, the rule and the way the other rules react to it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
import supervision as sv

from vision.config import parse_config
from vision.detectors.base import DetectTimes
from vision.events import ChangeKind, Violation, ViolationChange
from vision.frames import Frame
from vision.pipeline import CameraPipeline
from vision.tamper import TamperWatch

T0 = datetime.fromisoformat("2026-11-26T09:00:00+08:00")
FOOTAGE = Path(__file__).resolve().parents[3] / "shared" / "footage"
needs_footage = pytest.mark.skipif(not FOOTAGE.is_dir(), reason=f"real footage not available ({FOOTAGE} is absent)")


class People:
    name = "fixed"
    class_names = ["person"]
    person_class_id = 0

    def __init__(self, n: int) -> None:
        self.n = n

    def detect_timed(self, image: np.ndarray) -> tuple[sv.Detections, DetectTimes]:
        return self.detect(image), DetectTimes()

    def detect(self, image: np.ndarray) -> sv.Detections:
        h, w = image.shape[:2]
        boxes = [[0.1 * w, 0.2 * h, 0.3 * w, 0.9 * h], [0.6 * w, 0.2 * h, 0.8 * w, 0.9 * h]][: self.n]
        if not boxes:
            return sv.Detections.empty()
        return sv.Detections(xyxy=np.array(boxes, np.float32), confidence=np.full(len(boxes), 0.9, np.float32),
                             class_id=np.zeros(len(boxes), int))


def make_pipeline(tmp_path: Path, persons: int, extra_rules: str = "") -> CameraPipeline:
    cfg = parse_config(textwrap.dedent(f"""\
        site: {{id: b1, timezone: Asia/Shanghai}}
        cameras:
          - id: cam
            source: rtsp://127.0.0.1/cam
            analysis_fps: 5
            motion: {{enabled: false}}
            staff: {{method: everyone}}
            zones: [{{name: desk, kind: teller_area, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}}]
            rules:
              - {{type: camera_tamper}}
              {extra_rules}
        """), base_dir=tmp_path)
    return CameraPipeline(cfg, cfg.cameras[0], People(persons), data_dir=tmp_path, clips=False)  # type: ignore[arg-type]


def scene(seed: int = 7) -> np.ndarray:
    """A textured still background, like a branch interior."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (45, 80, 3), dtype=np.uint8)
    return cv2.resize(noise, (640, 360), interpolation=cv2.INTER_CUBIC)


def knocked(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 8, 1.0)
    m[0, 2] += 0.2 * w
    m[1, 2] += 0.1 * h
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def covered(image: np.ndarray) -> np.ndarray:
    return (image * 0.04).astype(np.uint8)  # a hand over the lens: dark, a little light leaks


def run(p: CameraPipeline, images: Iterator[tuple[float, np.ndarray]]) -> list[ViolationChange]:
    changes: list[ViolationChange] = []
    for i, (t, image) in enumerate(images):
        changes.extend(p.process(Frame("cam", i, t, T0 + timedelta(seconds=t), image)).changes)
    changes.extend(p.finish())
    return changes


def ended(changes: list[ViolationChange], rule: str = "camera_tamper") -> list[Violation]:
    return [c.violation for c in changes if c.kind is ChangeKind.ended and c.violation.rule == rule]


def secs(ts: datetime | None) -> float:
    assert ts is not None
    return (ts - T0).total_seconds()


def test_people_walking_through_are_not_tampering() -> None:
    watch, base = TamperWatch(), scene()
    h, w = base.shape[:2]
    for i in range(100):
        image = base.copy()
        x = int((i % 50) / 50 * w)  # a dark figure a quarter of the frame wide crosses, twice
        cv2.rectangle(image, (x, int(0.1 * h)), (x + w // 4, h), (40, 30, 30), -1)
        assert watch.check(image).kind is None, i


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        (covered, "covered"),
        (lambda im: np.full_like(im, 128), "covered"),  # uniform: a cap, a sheet of paper
        (knocked, "moved"),
        (lambda im: np.roll(im, 40, axis=1), "moved"),  # turned aside by 6 % of the width
        (lambda im: cv2.GaussianBlur(im, (0, 0), 5), "defocused"),
    ],
)
def test_each_kind_is_read(change: Callable[[np.ndarray], np.ndarray], kind: str) -> None:
    watch, base = TamperWatch(), scene()
    for _ in range(6):
        assert watch.check(base).kind is None
    assert watch.check(change(base)).kind == kind
    assert watch.check(base).kind is None  # put back: the view is as it was


def test_a_reference_image_is_the_proper_view() -> None:
    from vision.tamper import small_grey

    watch = TamperWatch(small_grey(scene()))
    assert watch.check(knocked(scene())).kind == "moved"  # from the very first frame
    assert watch.check(scene()).kind is None


def test_covered_then_knocked_aside_gives_two_violations(tmp_path: Path) -> None:
    p = make_pipeline(tmp_path, persons=0)
    base = scene()

    def images() -> Iterator[tuple[float, np.ndarray]]:
        for i in range(200):  # 40 s at 5 fps: still 0-8, covered 8-18, knocked aside from 18
            t = i * 0.2
            yield t, base if t < 8 else covered(base) if t < 18 else knocked(base)

    changes = run(p, images())
    got = ended(changes)
    assert [v.details["kind"] for v in got] == ["covered", "moved"]
    assert all(v.zone == "camera" for v in got)
    assert secs(got[0].started_at) == pytest.approx(8.0, abs=0.3)
    assert secs(got[0].ended_at) == pytest.approx(18.0, abs=0.3)
    assert secs(got[1].started_at) == pytest.approx(18.0, abs=0.3)
    started = [c for c in changes if c.kind is ChangeKind.started]
    # filed once the 3 s grace ran out
    assert [round(secs(c.violation.started_at) + c.violation.duration_s) for c in started] == [11, 21]
    assert "tamper" in p.times.summary()  # its own stage: bench shows its cost per frame


def test_other_rules_pause_while_the_view_is_tampered(tmp_path: Path) -> None:
    rules = "- {type: dual_teller, zone: desk, min_staff: 2, grace_s: 2, clear_s: 1, when: always}"
    p = make_pipeline(tmp_path, persons=1, extra_rules=rules)
    base = scene()

    def images() -> Iterator[tuple[float, np.ndarray]]:
        for i in range(150):  # one teller alone from the start; the lens covered 10-20 s
            t = i * 0.2
            yield t, covered(base) if 10 <= t < 20 else base

    changes = run(p, images())
    dual = [c for c in changes if c.violation.rule == "dual_teller"]
    # one violation across the covered stretch, marked, not an empty counter ending it
    assert len({c.violation.id for c in dual}) == 1
    assert any(c.kind is ChangeKind.updated and c.violation.details.get("view_tampered") for c in dual)
    assert dual[-1].violation.details["view_tampered"] is True
    assert [v.details["kind"] for v in ended(changes)] == ["covered"]


def test_a_camera_covered_from_the_start_pauses_the_counter_rules(tmp_path: Path) -> None:
    rules = "- {type: dual_teller, zone: desk, min_staff: 2, grace_s: 0, clear_s: 1, when: always}"
    p = make_pipeline(tmp_path, persons=0, extra_rules=rules)
    changes = run(p, ((i * 0.2, covered(scene())) for i in range(50)))
    assert ended(changes, "dual_teller") == []  # no "nobody at the counter" from a covered lens
    assert [v.details["kind"] for v in ended(changes)] == ["covered"]


def footage(name: str, fps: float = 5.0) -> Iterator[tuple[float, np.ndarray]]:
    cap = cv2.VideoCapture(str(FOOTAGE / name))
    src_fps = cap.get(cv2.CAP_PROP_FPS) or 16.7
    step = max(1, round(src_fps / fps))
    i = 0
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                return
            if i % step == 0:
                yield i / src_fps, image
            i += 1
    finally:
        cap.release()


@needs_footage
@pytest.mark.parametrize("name", ["bottle-detection.mp4", "classroom.gif", "worker-zone-detection.gif"])
def test_never_on_untouched_footage(tmp_path: Path, name: str) -> None:
    p = make_pipeline(tmp_path, persons=0)
    frames = list(footage(name, fps=30))  # every frame: more chances to go wrong
    assert len(frames) > 10
    changes = run(p, iter(frames))
    assert changes == []


@needs_footage
def test_real_footage_covered_ten_seconds_then_knocked_aside(tmp_path: Path) -> None:
    """The lens of the bottle clip is covered from 8 s to 18 s, then the view is knocked aside:
    two violations, kinds and times right within 3 s."""
    p = make_pipeline(tmp_path, persons=0)

    def tampered() -> Iterator[tuple[float, np.ndarray]]:
        for t, image in footage("bottle-detection.mp4"):
            yield t, image if t < 8 else covered(image) if t < 18 else knocked(image)

    got = ended(run(p, tampered()))
    assert [v.details["kind"] for v in got] == ["covered", "moved"]
    assert secs(got[0].started_at) == pytest.approx(8.0, abs=3.0)
    assert secs(got[0].ended_at) == pytest.approx(18.0, abs=3.0)
    assert secs(got[1].started_at) == pytest.approx(18.0, abs=3.0)


def test_config_has_no_zone_and_checks_the_reference(tmp_path: Path) -> None:
    from vision.errors import ConfigError

    base = """\
site: {id: b1, timezone: Asia/Shanghai}
cameras:
  - id: cam
    source: rtsp://127.0.0.1/cam
    zones: [{name: desk, kind: teller_area, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}]
"""
    cfg = parse_config(base + "    rules: [{type: camera_tamper}]\n", base_dir=tmp_path)
    rule = cfg.cameras[0].rules[0]
    assert (rule.zone, rule.grace_s, rule.when.value) == ("camera", 3.0, "always")
    with pytest.raises(ConfigError) as err:
        parse_config(base + "    rules: [{type: camera_tamper, zone: desk}]\n", base_dir=tmp_path)
    assert "<config>:6: cameras -> 0 -> rules -> 0 -> zone" in err.value.problems[0]
    with pytest.raises(ConfigError) as err:
        parse_config(base + "    evidence: {reference: nowhere.png}\n    rules: [{type: camera_tamper}]\n",
                     base_dir=tmp_path)
    assert "evidence -> reference" in err.value.problems[0]
    (tmp_path / "view.png").write_bytes(b"not a picture")
    bad = parse_config(base + "    evidence: {reference: view.png}\n    rules: [{type: camera_tamper}]\n",
                       base_dir=tmp_path)
    with pytest.raises(ConfigError, match="cannot be read as an image"):
        CameraPipeline(bad, bad.cameras[0], People(0), data_dir=tmp_path, clips=False)  # type: ignore[arg-type]
    cv2.imwrite(str(tmp_path / "view.png"), scene())
    cfg = parse_config(base + "    evidence: {reference: view.png}\n    rules: [{type: camera_tamper}]\n",
                       base_dir=tmp_path)
    p = CameraPipeline(cfg, cfg.cameras[0], People(0), data_dir=tmp_path, clips=False)  # type: ignore[arg-type]
    assert p.tamper is not None and p.tamper.reference is not None
    changes = run(p, ((i * 0.2, knocked(scene())) for i in range(25)))
    assert [v.details["kind"] for v in ended(changes)] == ["moved"]  # moved from the first frame


@pytest.mark.parametrize("gain", [0.5, 0.7, 1.3])
def test_lights_turned_down_or_up_are_not_tampering(gain: float) -> None:
    watch, base = TamperWatch(), scene()
    for _ in range(6):
        watch.check(base)
    for _ in range(20):
        assert watch.check(np.clip(base * gain, 0, 255).astype(np.uint8)).kind is None


@needs_footage
@pytest.mark.slow
def test_tellerwatch_eval_on_tampered_footage(tmp_path: Path) -> None:
    """End to end with the embedded detector: the bottle clip re-encoded with its lens covered
    from 8 s to 18 s and then knocked aside; ``tellerwatch eval`` against that truth scores 1.0,
    and the counter rule of the same camera stays quiet."""
    import json
    from fractions import Fraction

    import av

    from tests.vision.test_cli import tellerwatch

    clip = tmp_path / "tampered.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        stream.time_base = Fraction(1, 10)
        n = 0
        for t, image in footage("bottle-detection.mp4", fps=10):
            shown = image if t < 8 else covered(image) if t < 18 else knocked(image)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(shown), format="bgr24")
            frame.pts = n
            n += 1
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    duration = (n - 1) / 10
    (tmp_path / "site.yaml").write_text(textwrap.dedent(f"""\
        site: {{id: b1, timezone: Asia/Shanghai}}
        cameras:
          - id: cam
            source: {clip}
            replay_start: "2026-11-26T10:00:00+08:00"
            analysis_fps: 5
            zones: [{{name: desk, kind: counter, polygon: [[0, 0.3], [1, 0.3], [1, 1], [0, 1]]}}]
            rules:
              - {{type: camera_tamper}}
              - {{type: non_staff_in_area, zone: desk, grace_s: 2, when: always}}
        """))
    truth = {"tolerance_s": 3, "violations": [
        {"camera": "cam", "rule": "camera_tamper", "zone": "camera", "kind": "covered", "start_s": 8.0, "end_s": 18.0},
        {"camera": "cam", "rule": "camera_tamper", "zone": "camera", "kind": "moved", "start_s": 18.0,
         "end_s": duration},
    ]}
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    r = tellerwatch("eval", "site.yaml", "truth.json", "--json", "score.json", cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr
    score = json.loads((tmp_path / "score.json").read_text())
    print({k: v for k, v in score.items() if k.endswith("_s") or k in ("precision", "recall")})
    assert (score["precision"], score["recall"]) == (1.0, 1.0), score
    assert score["max_timing_error_s"] <= 3.0, score
