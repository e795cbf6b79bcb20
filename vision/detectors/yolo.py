"""Ultralytics YOLOv8 / YOLO11 detection models exported to ONNX (``yolo export format=onnx``).

Every such export has one output [1, 4+classes, N]: box centre and size in input pixels followed
by per-class scores (no objectness), for N anchor points of strides 8/16/32 (plus 64 for the P6
variants), before NMS. The input is RGB scaled to 0-1, letterboxed to the centre with grey 114,
as Ultralytics' own ``LetterBox``. Class names come from the export's metadata when present.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vision.detectors.onnx_base import STRIDES, OnnxDetector, grid_cells, static_dim


class YoloOnnxDetector(OnnxDetector):
    kind = "yolo-onnx"
    layout = "[1,3,H,W] input (RGB 0-1) and [1,4+classes,N] output (Ultralytics YOLOv8/YOLO11 export)"
    centre_pad = True
    scale = 1.0 / 255.0
    swap_rb = True
    default_size = 640

    def _check_output(self, shape: list[Any], height: int, width: int) -> int | None:
        if len(shape) != 3:
            return None
        channels, anchors = static_dim(shape[1]), static_dim(shape[2])
        if channels is None or channels < 5:
            return None
        expected = {grid_cells(height, width, STRIDES), grid_cells(height, width, (*STRIDES, 64))}
        if anchors is not None and anchors not in expected:
            return None
        return channels - 4

    def _decode(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scores = raw[4:]
        best = scores.max(axis=0)
        idx = np.flatnonzero(best >= self.floor)
        class_id = scores[:, idx].argmax(axis=0)
        confidence = best[idx]
        cx, cy, w, h = raw[:4, idx]
        return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1), confidence, class_id
