"""Several camera threads share one detector; frames are batched where the model allows."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import supervision as sv

from vision.batching import BatchingDetector, SharedDetector, shared_detector
from vision.config import DetectorConfig
from vision.detectors.base import Detector


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
