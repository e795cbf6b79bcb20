"""Motion gating: skip the detector on frames where nothing moved.

A cheap frame difference at low resolution decides whether the detector must run. When it is
skipped, the previous frame's detections are reused, so a seated teller who barely moves keeps
their track and zone occupancy; the detector still runs at least every ``max_skip_s`` so that a
detector miss is corrected soon.

Change is measured **per region**, not as a share of the whole frame: each zone, and the area
around each person box of the last detection (where someone leaving starts to move), is a region
of its own, and the detector runs when the changed share of any one region passes ``threshold``
(with at least ``MIN_CHANGED_PX`` changed pixels, so that sensor noise in a tiny zone does not
count). A person walking out of a small teller zone changes a large part of that zone even when
it is a sliver of the frame, so exits and arrivals are seen on the next analysed frame instead of
after ``max_skip_s``. The difference is taken against the frame of the last detector run, not the
previous frame, so slow movement adds up until it counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import supervision as sv

from vision.config import MotionConfig, ZoneConfig
from vision.frames import Frame

WORK_WIDTH = 160
PIXEL_DELTA = 18  # grey levels (after a 5x5 blur) that count as a changed pixel
MIN_CHANGED_PX = 6  # changed pixels (at WORK_WIDTH) a region needs before its share counts
BOX_MARGIN = 0.25  # a person box grows by this share of its size on each side
BOX_MIN_PX = 8  # the smallest box region, in work pixels per side


@dataclass(slots=True)
class _Region:
    name: str
    mask: np.ndarray | None  # zones: a full-size mask; boxes: None (the slice is the region)
    area: int
    box: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 of the region in work pixels


class MotionGate:
    def __init__(self, config: MotionConfig, zones: list[ZoneConfig]) -> None:
        self.config = config
        self._zones = zones
        self._ref: np.ndarray | None = None  # the frame of the last detector run, small and grey
        self._zone_regions: list[_Region] | None = None
        self._shape: tuple[int, ...] | None = None
        self._last_detect_t: float | None = None
        self.last_motion = 0.0  # the largest changed share of any region on the last check
        self.last_region: str | None = None  # the region that had it
        self.checked = 0  # frames the gate decided on
        self.skipped = 0  # ... of which the detector was skipped

    def _small(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        sh = max(1, int(round(h * WORK_WIDTH / w)))
        small = cv2.resize(image, (WORK_WIDTH, sh), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        return cv2.GaussianBlur(gray, (5, 5), 0)

    def _zones_for(self, shape: tuple[int, ...]) -> list[_Region]:
        if self._zone_regions is None or self._shape != shape[:2]:
            h, w = shape[:2]
            regions = []
            for z in self._zones:
                m = np.zeros((h, w), np.uint8)
                pts = np.round(z.points * np.array([w - 1, h - 1])).astype(np.int32)
                cv2.fillPoly(m, [pts], 255)
                grown = cv2.dilate(m, np.ones((5, 5), np.uint8))  # an arm reaching in counts as the zone's
                regions.append(_Region(f"zone:{z.name}", grown > 0, int(np.count_nonzero(grown))))
            if not regions:  # no zones: the whole frame is one region
                regions.append(_Region("frame", None, h * w, (0, 0, w, h)))
            self._zone_regions, self._shape = regions, shape[:2]
        return self._zone_regions

    @staticmethod
    def _box_regions(boxes: np.ndarray, image_size: tuple[int, int], shape: tuple[int, ...]) -> list[_Region]:
        h, w = shape[:2]
        iw, ih = image_size
        sx, sy = w / max(1, iw), h / max(1, ih)
        out = []
        for i, (x0, y0, x1, y1) in enumerate(boxes):
            mx, my = (x1 - x0) * BOX_MARGIN, (y1 - y0) * BOX_MARGIN
            a = max(0, int((x0 - mx) * sx))
            b = max(0, int((y0 - my) * sy))
            c = min(w, max(a + BOX_MIN_PX, int(np.ceil((x1 + mx) * sx))))
            d = min(h, max(b + BOX_MIN_PX, int(np.ceil((y1 + my) * sy))))
            if c > a and d > b:
                out.append(_Region(f"person:{i}", None, (c - a) * (d - b), (a, b, c, d)))
        return out

    def should_detect(self, frame: Frame, last_persons: sv.Detections) -> bool:
        gray = self._small(frame.image)
        self.checked += 1
        due = self._last_detect_t is None or frame.t - self._last_detect_t >= self.config.max_skip_s
        if self._ref is None or self._ref.shape != gray.shape or due:
            return self._detect(frame, gray)
        changed = cv2.absdiff(gray, self._ref) > PIXEL_DELTA
        regions = [*self._zones_for(gray.shape),
                   *self._box_regions(np.asarray(last_persons.xyxy).reshape(-1, 4), (frame.width, frame.height),
                                      gray.shape)]
        best, where = 0.0, None
        for r in regions:
            if r.box is not None:
                x0, y0, x1, y1 = r.box
                n = int(np.count_nonzero(changed[y0:y1, x0:x1]))
            else:
                assert r.mask is not None
                n = int(np.count_nonzero(changed & r.mask))
            share = n / max(1, r.area) if n >= MIN_CHANGED_PX else 0.0
            if share > best:
                best, where = share, r.name
        self.last_motion, self.last_region = best, where
        if best > self.config.threshold:
            return self._detect(frame, gray)
        self.skipped += 1
        return False

    def _detect(self, frame: Frame, gray: np.ndarray) -> bool:
        self._last_detect_t = frame.t
        self._ref = gray
        return True
