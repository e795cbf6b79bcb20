"""Several camera threads share one detector; frames are batched where the model allows."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
import supervision as sv
import yaml

from vision.batching import BatchingDetector, DetectorPool, SharedDetector, shared_detector
from vision.config import ConfigError, DetectorConfig, load_config
from vision.detectors import build_detector
from vision.detectors.base import Detector
from vision.runner import run

ROOT = Path(__file__).resolve().parents[2]


class BrightnessDetector(Detector):
    """Stands in for a model with a dynamic batch dimension (none ships in ../shared): one box
    whose confidence is the image's mean brightness, so each caller can check it got its own."""

    def __init__(self, batched: bool) -> None:
        super().__init__(DetectorConfig(confidence=0.01), ["person"], "brightness")
        self._batched = batched
        self.calls: list[int] = []

    @property
    def supports_batch(self) -> bool:
        return self._batched

    def detect(self, image: np.ndarray) -> sv.Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        self.calls.append(len(images))
        return [sv.Detections(xyxy=np.array([[0, 0, 4, 4]], float), confidence=np.array([img.mean() / 255.0]),
                              class_id=np.array([0])) for img in images]


def run_cameras(det, cameras: int, frames: int) -> dict[int, list[float]]:
    seen: dict[int, list[float]] = {c: [] for c in range(cameras)}
    barrier = threading.Barrier(cameras)

    def camera(c: int) -> None:
        for k in range(frames):
            barrier.wait()
            value = (10 * c + k) % 250 + 1
            out = det.detect(np.full((8, 8, 3), value, np.uint8))
            seen[c].append(round(float(out.confidence[0]) * 255.0))

    threads = [threading.Thread(target=camera, args=(c,)) for c in range(cameras)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return seen


@pytest.mark.parametrize(("batched", "kind"), [(True, BatchingDetector), (False, SharedDetector)])
def test_front_is_chosen_by_model(batched, kind) -> None:
    front = shared_detector(BrightnessDetector(batched), cameras=4)
    assert isinstance(front, kind)
    if isinstance(front, BatchingDetector):
        front.close()


def test_frames_of_several_cameras_share_inference_calls_and_answers_go_to_their_callers() -> None:
    inner = BrightnessDetector(batched=True)
    det = BatchingDetector(inner, max_batch=4, max_wait_s=0.05)
    try:
        seen = run_cameras(det, cameras=4, frames=10)
    finally:
        det.close()
    for c in range(4):
        assert seen[c] == [(10 * c + k) % 250 + 1 for k in range(10)]
    assert sum(inner.calls) == 40
    assert max(inner.calls) > 1 and len(inner.calls) < 40  # some frames really went together


def test_a_failing_batch_reaches_every_waiting_camera() -> None:
    class Broken(BrightnessDetector):
        def detect_batch(self, images):
            raise RuntimeError("inference failed")

    det = BatchingDetector(Broken(batched=True), max_batch=2, max_wait_s=0.0)
    try:
        with pytest.raises(RuntimeError, match="inference failed"):
            det.detect(np.zeros((8, 8, 3), np.uint8))
    finally:
        det.close()


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"max_batch": 0}, "max_batch"), ({"max_batch": 2, "max_wait_s": -1}, "max_wait_s")]
)
def test_arguments_are_checked(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        BatchingDetector(BrightnessDetector(True), **kwargs)


class SlowDetector(BrightnessDetector):
    """A batch-1 model that takes 20 ms a call and records how many calls overlap."""

    busy = 0
    most = 0
    lock = threading.Lock()

    def detect_batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        cls = type(self)
        with cls.lock:
            cls.busy += 1
            cls.most = max(cls.most, cls.busy)
        time.sleep(0.02)
        with cls.lock:
            cls.busy -= 1
        return super().detect_batch(images)


def test_a_pool_runs_as_many_calls_at_once_as_it_has_copies_and_answers_each_caller() -> None:
    copies: list[SlowDetector] = []

    def more() -> SlowDetector:
        copies.append(SlowDetector(batched=False))
        return copies[-1]

    front = shared_detector(more(), cameras=4, more=more, workers=2)
    assert isinstance(front, DetectorPool) and front.size == 2 and len(copies) == 2
    SlowDetector.most = 0
    seen = run_cameras(front, cameras=4, frames=8)
    for c in range(4):
        assert seen[c] == [(10 * c + k) % 250 + 1 for k in range(8)]
    assert SlowDetector.most == 2  # two calls ran at the same time, never three
    assert all(d.calls for d in copies)


def test_no_more_copies_than_cameras_and_none_without_a_way_to_make_them() -> None:
    made: list[BrightnessDetector] = []

    def more() -> BrightnessDetector:
        made.append(BrightnessDetector(batched=False))
        return made[-1]

    assert isinstance(shared_detector(BrightnessDetector(False), cameras=1, more=more, workers=4), SharedDetector)
    assert isinstance(shared_detector(BrightnessDetector(False), cameras=4, workers=4), SharedDetector)
    pool = shared_detector(BrightnessDetector(False), cameras=3, more=more, workers=8)
    assert isinstance(pool, DetectorPool) and pool.size == 3 and len(made) == 2


def test_workers_and_a_dynamic_batch_are_refused_together_with_the_key(tmp_path: Path) -> None:
    scene = ROOT / "sample_videos" / "scenes" / "walk_in.yaml"
    cfg = yaml.safe_load(scene.read_text())
    cfg["detector"] = {"type": "ssd-mobilenet", "workers": 2, "dynamic_batch": True}
    cfg["cameras"][0]["source"] = str(scene.with_suffix(".mp4"))
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert any("detector" in p and "do not go together" in p for p in err.value.problems), err.value.problems
    cfg["detector"] = {"workers": 0}
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert any("detector -> workers" in p for p in err.value.problems), err.value.problems


def test_each_copy_gets_its_share_of_the_thread_budget() -> None:
    assert DetectorConfig(workers=2).worker_threads(2) == 1
    assert DetectorConfig().worker_threads(1) == 2
    assert DetectorConfig(threads=2, workers=2).worker_threads(2) == 2  # an explicit budget is per copy


def test_two_cameras_on_two_copies_of_the_embedded_detector_decide_as_one_copy_does(tmp_path: Path) -> None:
    """The pool changes who runs a frame, not what is found: two cameras of a sample scene give the
    same violations with one detector and with two copies of it used at the same time."""
    scene = ROOT / "sample_videos" / "scenes" / "teller_leaves.yaml"
    got = {}
    for workers in (1, 2):
        app = load_config(scene)
        app = app.model_copy(update={
            "detector": app.detector.model_copy(update={"workers": workers}),
            "cameras": [app.cameras[0], app.cameras[0].model_copy(update={"id": "second"})],
        })
        report = run(app, data_dir=tmp_path / str(workers), clips=False)
        got[workers] = sorted((v.camera, v.rule, v.zone, v.started_at.isoformat(timespec="seconds"),
                               (v.ended_at or v.started_at).isoformat(timespec="seconds")) for v in report.violations)
    assert got[1] and got[1] == got[2]
    assert {c for c, *_ in got[2]} == {app.cameras[0].id, "second"}


def test_copies_of_a_real_detector_in_a_pool_find_what_one_finds() -> None:
    cfg = DetectorConfig()
    one = build_detector(cfg)
    each = cfg.model_copy(update={"threads": cfg.worker_threads(2)})
    pool = DetectorPool([build_detector(each), build_detector(each)])
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 255, (270, 480, 3), dtype=np.uint8) for _ in range(4)]
    with av.open(str(ROOT / "sample_videos" / "scenes" / "busy_counter.mp4")) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i % 50 == 0:
                images.append(f.to_ndarray(format="bgr24"))
            if len(images) >= 10:
                break
    want = [one.detect(im) for im in images]
    got: list[sv.Detections | None] = [None] * len(images)

    def work(k: int) -> None:
        for i in range(k, len(images), 2):
            got[i] = pool.detect(images[i])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(len(w) for w in want) > 0
    for g, w in zip(got, want, strict=True):
        assert g is not None and len(g) == len(w)
        assert np.allclose(g.xyxy, w.xyxy, atol=0.5) and np.allclose(g.confidence, w.confidence, atol=1e-4)
