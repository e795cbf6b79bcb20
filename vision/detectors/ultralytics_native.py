"""Any model the ``ultralytics`` package can load (.pt, .onnx, OpenVINO, TensorRT...), via its API.

An optional extra: the package pulls in torch, far too heavy for the default install, so it is
imported only when this backend is chosen. Ultralytics' own confidence threshold and NMS run
first (with our thresholds and the wanted classes, so it does no wasted work) and then the shared
``Detector._finish`` applies the same clipping and class-aware NMS as every other backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import supervision as sv

from vision.config import DetectorConfig
from vision.detectors.base import Detector, DetectTimes, StageTimer, check_image, require_file
from vision.errors import MissingExtraError, ModelLoadError

LAYOUT = "a detection model that ultralytics.YOLO can load (.pt, .onnx, ...)"


class UltralyticsDetector(Detector):
    def __init__(self, cfg: DetectorConfig) -> None:
        try:
            from ultralytics import YOLO
        except ImportError:
            raise MissingExtraError("ultralytics", "ultralytics") from None
        # Checked here, not left to ultralytics: YOLO("yolov8n.pt") would try to download weights.
        path = require_file(cfg.model, "ultralytics", LAYOUT)
        try:
            model: Any = YOLO(str(path), task="detect")
            names = model.names
        except (OSError, RuntimeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            reason = " ".join(str(exc).split())[:200]
            raise ModelLoadError(f"ultralytics: cannot load {path} as {LAYOUT}: {reason}") from None
        class_names = cfg.class_names or [str(names[i]) for i in range(len(names))]
        self._model = model
        self._device = "cuda:0" if cfg.device == "cuda" else "cpu"
        super().__init__(cfg, class_names, f"ultralytics:{path.name}")

    def _predict(self, images: list[np.ndarray]) -> tuple[list[sv.Detections], DetectTimes]:
        for image in images:
            check_image(image)
        timer = StageTimer()
        kwargs: dict[str, Any] = {
            "conf": self.floor,
            "iou": self.cfg.nms_iou,
            "classes": self.keep_class_ids.tolist(),
            "device": self._device,
            "verbose": False,
        }
        if self.cfg.input_size is not None:
            kwargs["imgsz"] = self.cfg.input_size
        results = self._model.predict(images, **kwargs)
        out = []
        preprocess = 0.0
        for image, result in zip(images, results, strict=True):
            raw = sv.Detections.from_ultralytics(result)
            preprocess += float(result.speed.get("preprocess") or 0.0) / 1000.0
            conf = raw.confidence if raw.confidence is not None else np.ones(len(raw), np.float32)
            cls = raw.class_id if raw.class_id is not None else np.zeros(len(raw), np.int64)
            out.append(self._finish(raw.xyxy, conf, cls, image.shape))
        total = timer.timings()
        elapsed = total.preprocess + total.detect
        return out, DetectTimes(preprocess, max(0.0, elapsed - preprocess))

    def detect(self, image: np.ndarray) -> sv.Detections:
        return self.detect_timed(image)[0]

    def detect_timed(self, image: np.ndarray) -> tuple[sv.Detections, DetectTimes]:
        out, times = self._predict([image])
        return out[0], times

    def detect_batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        return self.detect_batch_timed(images)[0]

    def detect_batch_timed(self, images: list[np.ndarray]) -> tuple[list[sv.Detections], DetectTimes]:
        return self._predict(list(images)) if images else ([], DetectTimes())
