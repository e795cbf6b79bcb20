"""Motion gating: skip the detector on frames where nothing moved.

A cheap frame difference at low resolution decides whether the detector must run. When it is
skipped, the previous frame's detections are reused, so a seated teller who barely moves keeps
their track and zone occupancy; the detector still runs at least every ``max_skip_s`` so that
a person who stands up slowly, or a detector miss, is corrected soon.
"""

from __future__ import annotations

import cv2
import numpy as np
import supervision as sv

from vision.config import MotionConfig, ZoneConfig
from vision.frames import Frame

WORK_WIDTH = 160


class MotionGate:
    def __init__(self, config: MotionConfig, zones: list[ZoneConfig]) -> None:
        self.config = config
        self._zones = zones
        self._prev: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._last_detect_t: float | None = None
        self.last_motion = 0.0
        self.skipped = 0

    def _small(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        sh = max(1, int(round(h * WORK_WIDTH / w)))
        small = cv2.resize(image, (WORK_WIDTH, sh), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        return cv2.GaussianBlur(gray, (5, 5), 0)

    def _zone_mask(self, shape: tuple[int, ...]) -> np.ndarray:
        if self._mask is None or self._mask.shape != shape[:2]:
            h, w = shape[:2]
            if not self._zones:
                self._mask = np.full((h, w), 255, np.uint8)
            else:
                m = np.zeros((h, w), np.uint8)
                for z in self._zones:
                    pts = np.round(z.points * np.array([w - 1, h - 1])).astype(np.int32)
                    cv2.fillPoly(m, [pts], 255)
                self._mask = cv2.dilate(m, np.ones((9, 9), np.uint8))
        return self._mask

    def should_detect(self, frame: Frame, last_persons: sv.Detections) -> bool:
        gray = self._small(frame.image)
        prev, self._prev = self._prev, gray
        due = self._last_detect_t is None or frame.t - self._last_detect_t >= self.config.max_skip_s
        if prev is None or prev.shape != gray.shape or due:
            self._last_detect_t = frame.t
            return True
        diff = cv2.absdiff(gray, prev)
        mask = self._zone_mask(gray.shape)
        changed = (diff > 18) & (mask > 0)
        denom = max(1, int(np.count_nonzero(mask)))
        self.last_motion = float(np.count_nonzero(changed)) / denom
        if self.last_motion > self.config.threshold:
            self._last_detect_t = frame.t
            return True
        self.skipped += 1
        return False
