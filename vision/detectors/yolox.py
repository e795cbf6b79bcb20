"""YOLOX exported to ONNX (Megvii's official export, e.g. YOLOX-Nano 416).

The export leaves the head undecoded: each of the N = sum((H/s)*(W/s)) anchor points for strides
8/16/32 carries (dx, dy, log w, log h, objectness, class scores...), already passed through the
sigmoid where it applies. The input is BGR 0-255 without normalisation, letterboxed to the
top-left with grey 114, exactly as YOLOX's own ``preproc``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vision.config import DetectorConfig
from vision.detectors.onnx_base import STRIDES, OnnxDetector, grid_cells, static_dim


class YoloxOnnxDetector(OnnxDetector):
    kind = "yolox-onnx"
    layout = "[1,3,H,W] input (BGR 0-255) and [1,N,5+classes] output (N = anchors of strides 8/16/32)"
    centre_pad = False
    scale = 1.0
    swap_rb = False
    default_size = 416

    def __init__(self, cfg: DetectorConfig) -> None:
        super().__init__(cfg)
        cells, steps = [], []
        for s in STRIDES:
            gh, gw = self.input_h // s, self.input_w // s
            yy, xx = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
            cells.append(np.stack([xx, yy], axis=-1).reshape(-1, 2))
            steps.append(np.full((gh * gw, 1), s))
        self._grid = np.concatenate(cells).astype(np.float32)
        self._strides = np.concatenate(steps).astype(np.float32)

    def _check_output(self, shape: list[Any], height: int, width: int) -> int | None:
        if len(shape) != 3:
            return None
        anchors, channels = static_dim(shape[1]), static_dim(shape[2])
        if channels is None or channels < 6:
            return None
        if anchors is not None and anchors != grid_cells(height, width):
            return None
        return channels - 5

    def _decode(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # score = objectness x class score <= objectness, so anchors below the threshold on
        # objectness alone can be dropped before any per-class work.
        idx = np.flatnonzero(raw[:, 4] >= self.floor)
        cand = raw[idx]
        scores = cand[:, 4:5] * cand[:, 5:]
        class_id = scores.argmax(axis=1)
        confidence = scores[np.arange(len(cand)), class_id]
        stride = self._strides[idx]
        centre = (cand[:, :2] + self._grid[idx]) * stride
        half = np.exp(np.minimum(cand[:, 2:4], 20.0)) * stride / 2
        return np.hstack([centre - half, centre + half]), confidence, class_id
