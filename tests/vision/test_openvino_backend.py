"""``detector.backend: openvino``: the same boxes as the default engine, and clear errors.

Runs where the optional ``openvino`` extra is installed and ../shared holds the model and footage.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from benchmarks.backends import agree
from benchmarks.footage import read_frames
from vision.config import DetectorConfig
from vision.detectors import build_detector
from vision.errors import ModelLoadError


def test_yolox_on_openvino_finds_the_same_boxes_as_onnxruntime(shared_model, footage):
    pytest.importorskip("openvino", reason="the optional openvino extra is not installed")
    model = shared_model("yolox_nano_416x416.onnx")
    images = read_frames(footage("bottle-detection.mp4"), 6, step=25) + read_frames(footage("classroom.gif"), 6, step=3)
    ref = build_detector(DetectorConfig(type="yolox-onnx", model=model, item_classes=["bottle"]))
    ov = build_detector(DetectorConfig(type="yolox-onnx", model=model, item_classes=["bottle"], backend="openvino"))
    found = 0
    for image in images:
        want, got = ref.detect(image), ov.detect(image)
        found += len(want)
        assert agree(ref, got, want), (got.xyxy, want.xyxy)
    assert found > 0  # the frames hold people and bottles, so the comparison compared something


def test_ssd_on_openvino_reads_the_embedded_graph_and_finds_people(footage):
    pytest.importorskip("openvino", reason="the optional openvino extra is not installed")
    det = build_detector(DetectorConfig(type="ssd-mobilenet", backend="openvino"))
    image = read_frames(footage("classroom.gif"), 1, step=1)[0]
    found = det.detect(image)
    assert found.confidence is not None
    persons = (found.class_id == det.person_class_id) & (found.confidence >= det.cfg.confidence)
    assert persons.sum() >= 1
    ref = build_detector(DetectorConfig(type="ssd-mobilenet"))
    assert agree(ref, found, ref.detect(image), tol=0.05)  # the TF graph scores ~0.03 apart from OpenCV's
    h, w = image.shape[:2]
    assert np.all(found.xyxy >= 0) and np.all(found.xyxy[:, [0, 2]] <= w) and np.all(found.xyxy[:, [1, 3]] <= h)


def test_openvino_missing_is_one_line_model_load_error(shared_model, monkeypatch):
    model = shared_model("yolox_nano_416x416.onnx")
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    with pytest.raises(ModelLoadError, match=r"pip install 'tellerwatch\[openvino\]'"):
        build_detector(DetectorConfig(type="yolox-onnx", model=model, backend="openvino"))


@pytest.mark.parametrize(("kind", "backend"), [("ssd-mobilenet", "onnxruntime"), ("yolox-onnx", "opencv")])
def test_engine_that_cannot_run_the_type_is_a_config_error(shared_model, kind, backend):
    model = shared_model("yolox_nano_416x416.onnx") if kind == "yolox-onnx" else None
    with pytest.raises(ValueError, match=f"detector.backend '{backend}' does not run type '{kind}'"):
        DetectorConfig(type=kind, model=model, backend=backend)


def test_the_converted_ssd_is_kept_and_read_back_and_a_damaged_or_unwritable_cache_only_costs_time(
    tmp_path, footage, monkeypatch, caplog
):
    pytest.importorskip("openvino", reason="the optional openvino extra is not installed")
    monkeypatch.setenv("TELLERWATCH_CACHE_DIR", str(tmp_path / "cache"))
    image = read_frames(footage("classroom.gif"), 1, step=1)[0]
    cfg = DetectorConfig(type="ssd-mobilenet", backend="openvino")
    first = build_detector(cfg).detect(image)
    kept = list((tmp_path / "cache" / "openvino").glob("*/model.xml"))
    assert len(kept) == 1 and kept[0].with_suffix(".bin").stat().st_size > 1_000_000
    assert not list((tmp_path / "cache" / "openvino").glob(".part-*"))
    again = build_detector(cfg).detect(image)  # read from the kept IR: the very same boxes
    assert len(first) > 0 and np.array_equal(again.xyxy, first.xyxy)
    assert np.array_equal(again.confidence, first.confidence)
    assert any((tmp_path / "cache" / "openvino" / "compiled").iterdir())  # OpenVINO's compiled blob

    kept[0].write_text("<net>damaged")
    with caplog.at_level("WARNING"):
        repaired = build_detector(cfg).detect(image)
    assert "unreadable" in caplog.text and np.array_equal(repaired.xyxy, first.xyxy)
    assert kept[0].read_text().startswith("<?xml")

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TELLERWATCH_CACHE_DIR", str(blocker))
    caplog.clear()
    with caplog.at_level("WARNING"):
        unkept = build_detector(cfg).detect(image)
    assert "converted at each start" in caplog.text and np.array_equal(unkept.xyxy, first.xyxy)
