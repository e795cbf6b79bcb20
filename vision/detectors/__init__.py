"""Person / item detectors: one ``Detector`` interface, one backend per ``detector.type``.

``build_detector`` is the only way the pipeline makes one, so the choice of backend, the thread
budget and every model-loading failure (as ``ModelLoadError``) are decided in one place.
"""

from __future__ import annotations

import os

import cv2

from vision.config import DetectorConfig, DetectorType
from vision.detectors.base import Detector

__all__ = ["Detector", "build_detector"]


def build_detector(cfg: DetectorConfig) -> Detector:
    """The detector ``cfg.type`` names, loaded and checked; raises ModelLoadError on a bad model.

    OpenCV's own thread pool is capped at the same budget as onnxruntime's: by default it takes
    every core, and on a 2-core box its resize / DNN threads would fight the inference threads.
    """
    cv2.setNumThreads(cfg.threads or min(2, os.cpu_count() or 2))
    kind = DetectorType(cfg.type)
    if kind is DetectorType.ssd_mobilenet:
        from vision.detectors.ssd import SsdMobilenetDetector

        return SsdMobilenetDetector(cfg)
    if kind is DetectorType.yolox_onnx:
        from vision.detectors.yolox import YoloxOnnxDetector

        return YoloxOnnxDetector(cfg)
    if kind is DetectorType.yolo_onnx:
        from vision.detectors.yolo import YoloOnnxDetector

        return YoloOnnxDetector(cfg)
    from vision.detectors.ultralytics_native import UltralyticsDetector

    return UltralyticsDetector(cfg)
