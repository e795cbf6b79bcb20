"""OpenVINO as the CPU inference engine (``detector.backend: openvino``), an optional extra.

OpenVINO reads the embedded TensorFlow SSD straight from its frozen graph
(``openvino.convert_model``) and the ONNX models from their files; the detectors keep their own
pre- and post-processing, so only the forward pass changes engine. The package is imported only
when this backend is chosen (``pip install 'tellerwatch[openvino]'``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vision.config import DetectorConfig
from vision.errors import ModelLoadError

HINT = "detector.backend 'openvino' needs the openvino package: pip install 'tellerwatch[openvino]'"


def _openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise ModelLoadError(HINT) from None
    return openvino


def compile_model(source: Path, cfg: DetectorConfig, kind: str) -> Any:
    """A model compiled for the CPU with the same thread budget as the other engines.

    Latency hint and ``threads`` (default 2) streams-free: one request at a time, like onnxruntime
    with spinning off, so the decoder and tracker keep their share of a 2-core box.
    """
    ov = _openvino()
    try:
        model = ov.convert_model(str(source)) if source.suffix == ".pb" else ov.Core().read_model(str(source))
        return ov.Core().compile_model(model, "CPU", {
            "INFERENCE_NUM_THREADS": cfg.threads or 2,
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
        })
    except Exception as exc:  # OpenVINO raises RuntimeError / OpConversionFailure / its own types
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ModelLoadError(f"{kind}: openvino cannot read {source}: {text}") from None


def onnx_runner(path: Path, cfg: DetectorConfig, kind: str) -> Callable[[np.ndarray], np.ndarray]:
    """``blob -> first output`` for a one-input ONNX detector."""
    compiled = compile_model(path, cfg, kind)
    request = compiled.create_infer_request()
    output = compiled.outputs[0]

    def run(blob: np.ndarray) -> np.ndarray:
        return np.asarray(request.infer([blob])[output])

    return run


def ssd_runner(pb: Path, cfg: DetectorConfig, kind: str) -> Callable[[np.ndarray], np.ndarray]:
    """``[1,H,W,3] uint8 RGB -> [1,1,N,7]`` rows as OpenCV DNN gives them
    (image id, 91-id label, score, x0, y0, x1, y1; normalised corners)."""
    compiled = compile_model(pb, cfg, kind)
    request = compiled.create_infer_request()
    outs = {}
    for o in compiled.outputs:
        for name in ("detection_boxes", "detection_classes", "detection_scores", "num_detections"):
            if any(n.startswith(name) for n in o.get_names()):
                outs[name] = o
    if len(outs) != 4:
        raise ModelLoadError(f"{kind}: {pb} is not a TensorFlow object-detection SSD graph "
                             "(detection_boxes / classes / scores / num_detections outputs)")

    def run(image: np.ndarray) -> np.ndarray:
        res = request.infer([image])
        n = int(np.asarray(res[outs["num_detections"]]).reshape(-1)[0])
        boxes = np.asarray(res[outs["detection_boxes"]])[0, :n]  # y0, x0, y1, x1
        rows = np.zeros((1, 1, n, 7), np.float32)
        rows[0, 0, :, 1] = np.asarray(res[outs["detection_classes"]])[0, :n]
        rows[0, 0, :, 2] = np.asarray(res[outs["detection_scores"]])[0, :n]
        rows[0, 0, :, 3:7] = boxes[:, [1, 0, 3, 2]]
        return rows

    return run
