"""detector.dynamic_batch: fixed batch-1 models take a batch, per image equal to batch 1; else fall back."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from benchmarks.footage import read_frames
from vision.config import DetectorConfig
from vision.detectors import build_detector

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"


def _frames(n: int) -> list[np.ndarray]:
    clip = SHARED / "footage" / "worker-zone-detection.gif"
    if not clip.is_file():
        pytest.skip(f"{clip} is absent (the team's footage lives in ../shared/footage)")
    return read_frames(clip, n, step=5)  # frames half a second apart: really different images


# YOLOv8's head concatenates a batch-1 anchor constant: that graph stays at batch 1 (fallback).
@pytest.mark.parametrize(
    ("kind", "name", "batched"),
    [("yolox-onnx", "yolox_nano_416x416.onnx", True), ("yolo-onnx", "yolov8n_int8.onnx", False)],
)
def test_batched_equals_single_on_real_frames(kind: str, name: str, batched: bool) -> None:
    model = SHARED / "models" / name
    if not model.is_file():
        pytest.skip(f"{model} is absent (the team's model files live in ../shared/models)")
    assert not build_detector(DetectorConfig(type=kind, model=str(model))).supports_batch  # off by default
    det = build_detector(DetectorConfig(type=kind, model=str(model), dynamic_batch=True))
    assert det.supports_batch is batched  # the shared exports all declare batch 1
    frames = _frames(4)
    batched = det.detect_batch(frames)
    single = [det.detect(f) for f in frames]
    assert sum(len(d) for d in single) > 0
    for b, s in zip(batched, single, strict=True):
        assert len(b) == len(s)
        np.testing.assert_allclose(b.xyxy, s.xyxy, rtol=1e-3, atol=1e-2)
        np.testing.assert_array_equal(b.class_id, s.class_id)


def _unbatchable(path: Path) -> None:
    """A 1x3x8x8 -> 1x85x1 graph whose Reshape reads batch 1 from a computed Mul: cannot follow a batch."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 64])
    one = helper.make_tensor("one", TensorProto.INT64, [3], [1, 3, 64])
    # Flatten to a fixed [3, 64] then Reshape by a constant-folded shape: batch 2 cannot fit [3,64]
    flat = helper.make_tensor("flat", TensorProto.INT64, [2], [3, 64])
    nodes = [
        helper.make_node("Reshape", ["images", "flat"], ["f"]),
        helper.make_node("Reshape", ["f", "one"], ["output"]),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], [one, flat])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def test_graph_that_cannot_batch_falls_back_with_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import onnxruntime as ort

    from vision.detectors.onnx_batch import batched_session

    model = tmp_path / "fixed.onnx"
    _unbatchable(model)
    single = ort.InferenceSession(str(model))
    with caplog.at_level(logging.INFO, logger="vision.detectors.onnx_batch"):
        got = batched_session(model, single, lambda data: ort.InferenceSession(data), (3, 8, 8), np.float32)
    assert got is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "fixed.onnx: batch dim cannot be made dynamic" in lines[0]
