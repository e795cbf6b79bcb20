"""Counter-item watcher: things left lying still on a counter zone.

COCO has no banknote, seal, teller-card or voucher class, so items are found the way
left-object detectors find them, from a model of the counter surface rather than from an
object class (Porikli et al., "Robust abandoned object detection using dual foregrounds",
2008; Tian et al., "Robust detection of abandoned and removed objects", 2008):

* The zone's bounding box is cut out and scaled down by an integer factor (long side <=
  ``work_size``, default 320 px), so one update costs well under a millisecond on a 640x360
  frame and barely more on a 1080p one.
* **Lighting**: before comparing, the frame is divided by the camera's current gain relative to
  the background, per channel, measured as the median ratio over counter pixels that show
  nothing. A global brightness, gain, white-balance or auto-exposure step leaves no foreground,
  and the foreground threshold rises with the residual noise. A still change over most of the
  zone that no gain explains (a lamp over one end of the counter, a nudged camera) re-learns the
  surface; a local one (a patch of sunlight, a shadow) is judged like any other still region
  below and is not an item.
* **Stillness**: each foreground pixel remembers since when it has been still (not different
  from the previous analysed frame, not under a person box grown by ``person_margin``). Only
  regions still for ``still_s`` are considered, so a hand or an arm crossing the counter, or a
  teller's forearm resting on it, never becomes an item.
* **Item or hole**: a region that has been still long enough is either something put down (an
  item) or something taken away from the learned surface (a "hole", e.g. a pen holder that was
  there when the watcher started). An object put down adds edges along the region's border to
  the current image; a removed one takes them away; a shadow or a change of light either fades
  in softly or only scales the counter's colour. Items are tracked; everything else is healed
  into the background at once, which is the short-term half of the dual-background idea.
* **No absorption**: the long-term background learns slowly, and only where the zone shows no
  foreground, no motion, no person and no item, so cash left on the counter for an hour is
  still an item an hour later.
* **Removal**: an item is dropped once most of its pixels match the background again for
  ``gone_s`` (default 0.6 s). Nothing is decided while a hand moves over it or a person box
  covers it, so an item merely occluded keeps its id, and one taken away goes about a second
  after the hand that took it.

The watcher cannot know the empty counter if the stream starts with things on it. By default
it learns the first ``learn_s`` seconds as the surface, so anything present then is part of the
counter until it is taken away (then it is a hole and healed) and becomes an item only when put
down again. Where that matters, ``UnattendedItemsRule.reference`` names an image of the empty
counter taken from the same camera; then everything that differs from it and lies still is an
item from the first seconds on.

Detector boxes of item classes (``DetectorConfig.item_classes``, e.g. a user-supplied model with
a ``cash`` class) that lie on the zone are merged in: they name the item they overlap, and a
detected item that stays put for ``still_s`` is reported even if the pixel model missed it.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import cv2
import numpy as np
import supervision as sv

from vision.config import UnattendedItemsRule, ZoneConfig
from vision.errors import ConfigError
from vision.frames import Frame
from vision.observations import ItemObs

_KERNEL3 = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
_KERNEL5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
_SAMPLES = 800  # counter pixels that estimate the camera's gain and the noise: plenty for a median
_MIN_SAMPLES = 50  # counter pixels needed to trust a gain estimate
_ITEM, _HOLE, _UNCLEAR = 1, 2, 3  # verdicts on a still region
_TAKE, _HEAL, _WAIT = "take", "heal", "wait"  # what is done with it


@dataclass
class _Item:
    item_id: int
    label: str
    first_seen: datetime
    mask: np.ndarray | None  # bool, working resolution; None for a detector-only item
    box: tuple[int, int, int, int]  # working-resolution x0, y0, x1, y1 (exclusive) of mask
    det_xyxy: tuple[float, float, float, float] | None = None
    det_t: float = -math.inf
    missing_since: float | None = None
    created: float = 0.0


@dataclass
class _Candidate:
    """A detector box waiting to prove it lies still for ``still_s``."""

    xyxy: np.ndarray
    label: str
    since: float
    last_t: float


def _ious(boxes: Sequence[np.ndarray | tuple[float, ...]], box: np.ndarray | tuple[float, ...]) -> np.ndarray:
    """IoU of each of ``boxes`` with ``box`` (``sv.box_iou_batch``; 0 where both are empty)."""
    if not boxes:
        return np.zeros(0, dtype=np.float32)
    return sv.box_iou_batch(np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
                            np.asarray(box, dtype=np.float64).reshape(1, 4))[:, 0]


def _best(boxes: Sequence[np.ndarray | tuple[float, ...]], box: np.ndarray | tuple[float, ...]) -> tuple[int, float]:
    """(index, IoU) of the one of ``boxes`` that overlaps ``box`` most (the first on a tie); (-1, 0)
    when there are none."""
    ious = _ious(boxes, box)
    if not len(ious):
        return -1, 0.0
    i = int(np.argmax(ious))
    return i, float(ious[i])


def _union(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _near(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Boxes that touch once each grows by a quarter of its size (at least 2 px) on every side."""
    def grow(r: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
        mx, my = max(2.0, 0.25 * (r[2] - r[0])), max(2.0, 0.25 * (r[3] - r[1]))
        return r[0] - mx, r[1] - my, r[2] + mx, r[3] + my

    ga, gb = grow(a), grow(b)
    return ga[0] < gb[2] and gb[0] < ga[2] and ga[1] < gb[3] and gb[1] < ga[3]


def _stacked(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Boxes in line (overlapping by half the narrower in one axis), apart by at most the larger
    extent in the other: the pieces a transparent or two-tone object falls apart into."""
    for lo, hi in ((0, 2), (1, 3)):
        other_lo, other_hi = 1 - lo + 0, 3 - hi + 2  # the other axis: y for x, x for y
        overlap = min(a[hi], b[hi]) - max(a[lo], b[lo])
        if overlap >= 0.5 * min(a[hi] - a[lo], b[hi] - b[lo]):
            gap = max(0, a[other_lo] - b[other_hi], b[other_lo] - a[other_hi])
            if gap <= max(a[other_hi] - a[other_lo], b[other_hi] - b[other_lo]):
                return True
    return False


class CounterItemWatcher:
    """Finds items lying still on one counter zone; one watcher per zone, fed every analysed frame.

    ``frame_size`` is (width, height) of the camera image. ``reference`` (an image of the empty
    counter) overrides ``rule.reference``. The other keyword arguments tune the pixel model; their
    defaults suit 5 fps analysis of a compressed 360p-1080p stream. After each update,
    ``last_foreground_ratio`` is the share of the zone that differs from the learned counter (a
    cheap signal for tuning and for motion gating) and ``last_cost_s`` what the update cost.
    """

    def __init__(
        self,
        zone: ZoneConfig,
        rule: UnattendedItemsRule | None = None,
        *,
        frame_size: tuple[int, int],
        reference: np.ndarray | None = None,
        work_size: int = 320,
        learn_s: float = 2.0,
        gone_s: float = 0.6,
        threshold: float = 40.0,
        background_tau_s: float = 60.0,
        person_margin: float = 0.1,
        detector_hold_s: float = 1.5,
    ) -> None:
        width, height = frame_size
        if width < 8 or height < 8:
            raise ValueError(f"frame_size must be (width, height) of at least 8x8 pixels, got {frame_size}")
        if not 16 <= work_size <= 4096:
            raise ValueError(f"work_size must be in [16, 4096], got {work_size}")
        for name, value in (("learn_s", learn_s), ("gone_s", gone_s), ("detector_hold_s", detector_hold_s)):
            if not 0 <= value <= 600:
                raise ValueError(f"{name} must be in [0, 600] seconds, got {value}")
        if not 0 < threshold <= 765:
            raise ValueError(f"threshold must be in (0, 765] (summed BGR difference), got {threshold}")
        if background_tau_s <= 0:
            raise ValueError(f"background_tau_s must be > 0, got {background_tau_s}")
        if rule is None:
            rule = UnattendedItemsRule(type="unattended_items", zone=zone.name, attended_by="")
        self.zone = zone
        self.rule = rule
        self.frame_size = (int(width), int(height))
        self.learn_s = learn_s
        self.gone_s = gone_s
        self.threshold = threshold
        self.background_tau_s = background_tau_s
        self.person_margin = person_margin
        self.detector_hold_s = detector_hold_s

        pts = zone.points.astype(np.float64) * np.array([width, height], dtype=np.float64)
        self._x0 = int(np.clip(np.floor(pts[:, 0].min()), 0, width - 1))
        self._y0 = int(np.clip(np.floor(pts[:, 1].min()), 0, height - 1))
        self._x1 = int(np.clip(np.ceil(pts[:, 0].max()), self._x0 + 1, width))
        self._y1 = int(np.clip(np.ceil(pts[:, 1].max()), self._y0 + 1, height))
        # an integer decimation of a crop whose sides it divides keeps INTER_AREA on its fast
        # path (~15x faster than a fractional one)
        k = math.ceil(max(self._x1 - self._x0, self._y1 - self._y0) / work_size)
        self._x0, self._x1 = self._divisible(self._x0, self._x1, k, width)
        self._y0, self._y1 = self._divisible(self._y0, self._y1, k, height)
        self._scale = 1.0 / k
        self._ww = (self._x1 - self._x0) // k
        self._wh = (self._y1 - self._y0) // k
        local = (pts - [self._x0, self._y0]) * self._scale
        zmask = np.zeros((self._wh, self._ww), np.uint8)
        cv2.fillPoly(zmask, [np.round(local * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        if not zmask.any():
            raise ValueError(f"zone {zone.name!r} covers no pixel of a {width}x{height} frame")
        self._zone = zmask.astype(bool)
        self._zone_u8 = zmask
        # the edge test ignores the zone's own border, where a region is cut, not outlined
        inner = cv2.erode(zmask, _KERNEL5, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        self._zone_inner = inner.astype(bool)
        self._zone_px = int(self._zone.sum())
        self._poly_full = pts.astype(np.float32)
        area_full = rule.min_area * width * height
        self._min_area_px = max(4.0, area_full * self._scale * self._scale)
        flat = np.flatnonzero(self._zone)
        rng = np.random.default_rng(0)
        self._samples = np.sort(rng.choice(flat, size=min(_SAMPLES, flat.size), replace=False))

        if reference is None and rule.reference is not None:
            reference = cv2.imread(str(rule.reference), cv2.IMREAD_COLOR)
            if reference is None:
                raise ConfigError(f"reference image {rule.reference} cannot be read as an image")
        self._reference = None
        if reference is not None:
            self._reference = self._prepare(reference, resize=True).astype(np.float32)

        self._ids = itertools.count(1)
        self.last_foreground_ratio = 0.0
        self.last_cost_s = 0.0
        self._reset()

    @staticmethod
    def _divisible(lo: int, hi: int, k: int, limit: int) -> tuple[int, int]:
        """Widen [lo, hi) inside [0, limit) until k divides its length (or shrink it if it cannot grow)."""
        extra = (-(hi - lo)) % k
        hi2 = min(limit, hi + extra)
        lo2 = max(0, lo - (extra - (hi2 - hi)))
        if (hi2 - lo2) % k:
            hi2 -= (hi2 - lo2) % k
        return lo2, max(hi2, lo2 + k)

    # ------------------------------------------------------------------ state

    def _reset(self) -> None:
        """Forget everything but the reference: a file source looped or a stream restarted."""
        shape = (self._wh, self._ww)
        self._bg: np.ndarray | None = None if self._reference is None else self._reference.copy()
        self._prev: np.ndarray | None = None
        self._since = np.full(shape, np.inf, dtype=np.float64)
        self._fg = np.zeros(shape, dtype=bool)
        self._items: list[_Item] = []
        self._candidates: list[_Candidate] = []
        self._t0: float | None = None
        self._last_t: float | None = None
        self._learn_until = -math.inf
        self._change_since: float | None = None
        self._last_update_t: float | None = None

    def _prepare(self, image: np.ndarray, *, resize: bool = False) -> np.ndarray:
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        if resize and (image.shape[1], image.shape[0]) != self.frame_size:
            image = cv2.resize(image, self.frame_size, interpolation=cv2.INTER_AREA)
        crop = image[self._y0 : self._y1, self._x0 : self._x1]
        small = cv2.resize(crop, (self._ww, self._wh), interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (3, 3), 0)

    # ------------------------------------------------------------------ pixel model

    def _photometric(self, small: np.ndarray, bg: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """``small`` divided by the camera's current gain relative to the background, per channel.

        The gain is the median ratio over counter pixels that show no foreground, so items,
        people and holes (a minority of the zone) do not pull it. Tone curves fitted per
        intensity were tried and dropped: a hole whose colour differs from the counter's takes
        over a whole intensity bin and bends the curve, which hides the hole from itself.
        """
        if idx.size < _MIN_SAMPLES:
            return small.astype(np.float32)
        cur_s = small.reshape(-1, 3)[idx].astype(np.float32)
        bg_s = bg.reshape(-1, 3)[idx]
        ratio = (cur_s + 1.0) / (bg_s + 1.0)
        gain = np.partition(ratio, ratio.shape[0] // 2, axis=0)[ratio.shape[0] // 2]
        return cv2.transform(small.astype(np.float32), np.diag(1.0 / gain).astype(np.float32))

    @staticmethod
    def _distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return cv2.transform(cv2.absdiff(a, b), np.ones((1, 3), np.float32))

    def _box_mask(self, xyxy: np.ndarray, margin: float) -> np.ndarray:
        mask = np.zeros((self._wh, self._ww), dtype=bool)
        for x0, y0, x1, y1 in np.asarray(xyxy, dtype=np.float64).reshape(-1, 4):
            mx, my = (x1 - x0) * margin, (y1 - y0) * margin
            a = int(max(0, math.floor((x0 - mx - self._x0) * self._scale)))
            b = int(max(0, math.floor((y0 - my - self._y0) * self._scale)))
            c = int(min(self._ww, math.ceil((x1 + mx - self._x0) * self._scale)))
            d = int(min(self._wh, math.ceil((y1 + my - self._y0) * self._scale)))
            if c > a and d > b:
                mask[b:d, a:c] = True
        return mask

    def _is_item(
        self, comp: np.ndarray, x: int, y: int, cur: np.ndarray, bg: np.ndarray, near_counter: np.ndarray
    ) -> int | None:
        """``_ITEM`` if the still region is something put down, ``_HOLE`` if something was taken
        away, ``_UNCLEAR`` for a soft change (shadow, light) or a piece too weak to judge, None if
        too little of its outline borders the counter to tell yet.

        Two tests on the region's border. Sharpness: an object put down or taken away changes
        the image with a step at its outline, while a shadow or a local change of light fades
        in over many pixels. Direction: an object put down adds edges along that outline to
        the current image, a removed one leaves them only in the background (a "hole").
        """
        h, w = comp.shape
        pad = 3
        ya, yb = max(0, y - pad), min(self._wh, y + h + pad)
        xa, xb = max(0, x - pad), min(self._ww, x + w + pad)
        region = np.zeros((yb - ya, xb - xa), np.uint8)
        region[y - ya : y - ya + h, x - xa : x - xa + w] = comp
        band = (cv2.dilate(region, _KERNEL3) - cv2.erode(region, _KERNEL3)).astype(bool)
        band &= self._zone_inner[ya:yb, xa:xb] & near_counter[ya:yb, xa:xb]
        if np.count_nonzero(band) < 8:
            return None
        c, b = cur[ya:yb, xa:xb], bg[ya:yb, xa:xb]
        diff = c - b

        def edges(img: np.ndarray) -> float:
            gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
            gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
            return float(cv2.transform(np.abs(gx) + np.abs(gy), np.ones((1, 3), np.float32))[band].mean())

        contrast = float(cv2.transform(np.abs(diff), np.ones((1, 3), np.float32))[region.astype(bool)].mean())
        sharpness = edges(diff) / max(contrast, 1.0)
        e_cur, e_bg = edges(c), edges(b)
        if e_bg > 1.2 * e_cur and e_bg - e_cur > self.threshold:
            return _HOLE
        if sharpness < 1.8 or e_cur <= 1.2 * e_bg or e_cur - e_bg <= self.threshold:
            return _UNCLEAR
        # a patch of sunlight or a hard shadow can have a crisp outline too, but it only scales
        # the counter's colour; an item brings a colour of its own
        inside = region.astype(bool)
        cs, bs = c[inside], b[inside]
        scale = (cs * bs).sum(axis=1) / np.maximum((bs * bs).sum(axis=1), 1.0)
        off_colour = np.linalg.norm(cs - scale[:, None] * bs, axis=1) / np.maximum(
            np.linalg.norm(bs, axis=1), 1.0)
        if float(np.median(off_colour)) < 0.015 and 0.4 < float(np.median(scale)) < 2.0:
            return _UNCLEAR
        return _ITEM

    def _to_full(self, box: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
        s = self._scale
        return (
            self._x0 + box[0] / s,
            self._y0 + box[1] / s,
            self._x0 + box[2] / s,
            self._y0 + box[3] / s,
        )

    def _to_work(self, xyxy: np.ndarray | tuple[float, ...]) -> tuple[int, int, int, int]:
        s = self._scale
        return (
            int(np.clip(math.floor((xyxy[0] - self._x0) * s), 0, self._ww)),
            int(np.clip(math.floor((xyxy[1] - self._y0) * s), 0, self._wh)),
            int(np.clip(math.ceil((xyxy[2] - self._x0) * s), 0, self._ww)),
            int(np.clip(math.ceil((xyxy[3] - self._y0) * s), 0, self._wh)),
        )

    # ------------------------------------------------------------------ update

    def update(
        self, frame: Frame, persons: sv.Detections, item_detections: sv.Detections | None = None
    ) -> tuple[ItemObs, ...]:
        """Items lying still on the zone now, in full-frame pixels, ordered by item id."""
        start = time.perf_counter()
        t = self._clock(frame)
        try:
            return self._step(frame, t, persons, item_detections)
        finally:
            self.last_cost_s = time.perf_counter() - start

    def _clock(self, frame: Frame) -> float:
        """Seconds since the watcher started; a clock that went back (a looped file) starts over."""
        width, height = self.frame_size
        if frame.image.ndim < 2 or frame.image.shape[:2] != (height, width):
            raise ValueError(
                f"frame image must be {height}x{width} (frame_size {self.frame_size}), got {frame.image.shape}"
            )
        if self._last_t is not None and frame.t < self._last_t:
            self._reset()
        if self._t0 is None:
            self._t0 = frame.t
        self._last_t = frame.t
        return frame.t - self._t0

    def _items_mask(self) -> np.ndarray:
        items_mask = np.zeros_like(self._fg)
        for it in self._items:
            if it.mask is not None:
                items_mask |= it.mask
        return items_mask

    def _foreground(
        self, small: np.ndarray, bg: np.ndarray, pers: np.ndarray, items_mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(picture in the background's photometry, its distance from the background, foreground,
        moving) of this frame; keeps the foreground and this picture for the next."""
        # gain and noise are measured on counter pixels that showed nothing last time
        exclude = self._fg | items_mask | pers
        idx = self._samples[~exclude.ravel()[self._samples]]
        cur = self._photometric(small, bg, idx)
        dist = self._distance(cur, bg)
        noise = 0.0
        if idx.size >= _MIN_SAMPLES:
            noise = float(np.partition(dist.ravel()[idx], idx.size // 2)[idx.size // 2])
        thr = max(self.threshold, 3.0 * noise)
        fg_u8 = cv2.morphologyEx((dist > thr).astype(np.uint8), cv2.MORPH_OPEN, _KERNEL3)
        fg = fg_u8.astype(bool) & self._zone
        if self._prev is None:
            moving = np.zeros_like(fg)
        else:
            mv = (self._distance(cur, self._prev) > thr).astype(np.uint8)
            moving = cv2.dilate(mv, _KERNEL5).astype(bool)
        self._prev = cur
        self._fg = fg
        self.last_foreground_ratio = float(np.count_nonzero(fg)) / self._zone_px
        return cur, dist, fg, moving

    def _step(
        self, frame: Frame, t: float, persons: sv.Detections, item_detections: sv.Detections | None
    ) -> tuple[ItemObs, ...]:
        small = self._prepare(frame.image)
        pers = self._box_mask(persons.xyxy, self.person_margin) if len(persons) else np.zeros_like(self._fg)
        if self._bg is None:
            self._bg = small.astype(np.float32)
            self._learn_until = t + self.learn_s
        bg = self._bg
        items_mask = self._items_mask()
        cur, dist, fg, moving = self._foreground(small, bg, pers, items_mask)
        dt = 0.0 if self._last_update_t is None else max(0.0, t - self._last_update_t)
        self._last_update_t = t

        if t < self._learn_until:
            # learning the surface: follow the scene quickly wherever nothing moves
            cv2.accumulateWeighted(cur, bg, 0.3, mask=(self._zone & ~moving & ~pers).astype(np.uint8))
            return ()

        if self._relearn_if_changed(t, dist > self.threshold, moving, pers, items_mask, cur):
            return self._report(frame, t)

        # since when each foreground pixel has lain still; anything else starts over. A pixel
        # already counting keeps counting down to half the base contrast, so an exposure change
        # that raises the noise threshold for a moment does not restart every object's clock.
        weak = dist > 0.5 * self.threshold
        counting = fg | (weak & np.isfinite(self._since))
        self._since = np.where(counting & ~moving & ~pers, np.minimum(self._since, t), np.inf)
        self._assign_static(frame, t, counting & self._zone, cur, items_mask)

        if item_detections is not None and len(item_detections):
            self._merge_detections(frame, t, item_detections, persons)
        # an item's own pixels need only half the (unraised) contrast: a transparent or pale item
        # fades in and out of the full threshold as the light flickers, a removed one falls far below
        self._update_presence(t, weak, moving | pers)

        # the long-term surface learns slowly, only where the counter shows nothing
        learn = self._zone & ~fg & ~moving & ~pers & ~items_mask
        alpha = min(1.0, dt / self.background_tau_s)
        if alpha > 0:
            cv2.accumulateWeighted(cur, bg, alpha, mask=learn.astype(np.uint8))
        return self._report(frame, t)

    def _relearn_if_changed(
        self, t: float, differs: np.ndarray, moving: np.ndarray, pers: np.ndarray, items_mask: np.ndarray,
        cur: np.ndarray,
    ) -> bool:
        """Re-learn the surface after a still change over most of the zone that no gain explains.

        Items keep their part of the old background, so they survive the re-learn.
        """
        # measured against the base threshold: the noise-raised one hides exactly this change
        changed = np.count_nonzero(differs & self._zone & ~moving & ~pers & ~items_mask) / self._zone_px
        if changed < 0.5:
            self._change_since = None
            return False
        if self._change_since is None:
            self._change_since = t
        if t - self._change_since < max(1.0, self.rule.still_s):
            return False
        assert self._bg is not None
        keep = items_mask[..., None]
        self._bg = np.where(keep, self._bg, cur).astype(np.float32)
        self._since[:] = np.inf
        self._fg = np.zeros_like(self._fg)
        self._change_since = None
        return True

    def _assign_static(
        self, frame: Frame, t: float, fg: np.ndarray, cur: np.ndarray, items_mask: np.ndarray
    ) -> None:
        """Decide about regions that have lain still for ``still_s``: item, or part of the counter.

        Still pixels arrive piecewise while a hand lets go of an object or its shadow flickers
        nearby, so a region is judged on the part of its outline that borders the counter; an
        outline running through foreground that is still settling says nothing and is left out.
        Pieces of one object that settle later join the item they touch.
        """
        assert self._bg is not None
        still_for = t - self._since
        static = fg & (still_for >= self.rule.still_s - 1e-6)
        static &= ~items_mask
        if not static.any():
            return
        closed: np.ndarray = cv2.morphologyEx(static.astype(np.uint8), cv2.MORPH_CLOSE, _KERNEL5)
        region = closed & self._zone_u8
        region[items_mask] = 0
        # outer contours, not connectedComponentsWithStats: as fast for a handful of regions and
        # ~20x cheaper on OpenCV 5, whose labelling costs ~0.2 ms even on an empty mask
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            return
        near_counter: np.ndarray | None = None
        fg_closed: np.ndarray | None = None
        groups: np.ndarray | None = None  # labels of connected foreground, computed when needed
        heal_mask = np.zeros_like(region)
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            comp_u8 = np.zeros((h, w), np.uint8)
            cv2.drawContours(comp_u8, [contour], -1, 1, thickness=-1, offset=(-x, -y))
            comp = comp_u8.astype(bool) & region[y : y + h, x : x + w].astype(bool)
            area = int(np.count_nonzero(comp))
            if area == 0:
                continue
            held = still_for[y : y + h, x : x + w][comp]
            if area >= self._min_area_px and fg_closed is None:
                fg_closed = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_CLOSE, _KERNEL5)
                near_counter = cv2.dilate(1 - fg_closed, _KERNEL3).astype(bool)
            action = self._settle(comp, x, y, held, area, cur, near_counter)
            if action == _HEAL:
                heal_mask[y : y + h, x : x + w] |= comp_u8
            elif action == _TAKE:
                if groups is None:
                    assert fg_closed is not None  # set for every region large enough to be an item
                    # plain labels are cheap (only the variant with statistics is slow)
                    groups = cv2.connectedComponents(fg_closed, connectivity=8)[1]
                self._add_piece(frame, t, comp, (x, y, x + w, y + h), held, groups)
        if groups is not None and len(self._items) > 1:
            self._merge_pieces(groups)
        if heal_mask.any():
            self._heal(heal_mask, cur, items_mask)

    def _settle(
        self, comp: np.ndarray, x: int, y: int, held: np.ndarray, area: int, cur: np.ndarray,
        near_counter: np.ndarray | None,
    ) -> str:
        """What to do with a still region: take it for an item (``_TAKE``), for the counter
        (``_HEAL``), or wait (``_WAIT``)."""
        assert self._bg is not None
        # a region that has lain still a while longer than an item needs and is still not an
        # item is a speck, a shadow or a piece never seen clearly: the counter looks like this
        mature = np.count_nonzero(held >= self.rule.still_s + 1.5) >= 0.85 * area
        if area < self._min_area_px:
            return _HEAL if mature else _WAIT
        assert near_counter is not None
        verdict = self._is_item(comp, x, y, cur, self._bg, near_counter)
        if verdict is None:
            stale = np.count_nonzero(held >= 2 * self.rule.still_s + 5.0) >= 0.85 * area
            return _HEAL if stale else _WAIT
        if verdict == _HOLE or (verdict == _UNCLEAR and mature):
            # an _UNCLEAR region may be the first piece of an object to settle: it gets a
            # moment for the rest to join before it is taken for the counter
            return _HEAL
        return _WAIT if verdict == _UNCLEAR else _TAKE

    def _heal(self, heal_mask: np.ndarray, cur: np.ndarray, items_mask: np.ndarray) -> None:
        """Regions taken for the counter become background again."""
        assert self._bg is not None
        # the margin also takes in the faint outline a removed object leaves just under
        # the threshold, which would otherwise outline the next object put there
        mask = cv2.dilate(heal_mask, _KERNEL5, iterations=2).astype(bool)
        mask &= self._zone & ~items_mask
        self._bg[mask] = cur[mask]
        self._since[mask] = np.inf

    def _add_piece(
        self, frame: Frame, t: float, comp: np.ndarray, box: tuple[int, int, int, int], held: np.ndarray,
        groups: np.ndarray,
    ) -> None:
        """A region judged an item: a new item, or another piece of one already known.

        Pieces are the part a hand still covered when the item was first seen, or the parts a
        transparent or two-tone object falls apart into where it shows the counter through. A
        piece joins an item it touches, or one that settled moments ago and lies in the same
        connected foreground or in line with it.
        """
        x, y, x1, y1 = box
        own = np.unique(groups[y:y1, x:x1][comp])
        owner = next((it for it in self._items if self._same_object(it, box, own, t, groups)), None)
        if owner is None:
            owner = self._detector_item_at(box)
        if owner is not None:
            if owner.mask is None:
                owner.mask, owner.box = np.zeros_like(self._fg), box
            owner.mask[y:y1, x:x1] |= comp
            owner.box = _union(owner.box, box)
            return
        mask = np.zeros_like(self._fg)
        mask[y:y1, x:x1] = comp
        self._items.append(
            _Item(
                item_id=next(self._ids),
                label="item",
                first_seen=frame.ts - timedelta(seconds=float(held.max()) if held.size else 0.0),
                mask=mask,
                box=box,
                created=t,
            )
        )

    def _same_object(
        self, it: _Item, box: tuple[int, int, int, int], labels: np.ndarray, created: float,
        groups: np.ndarray,
    ) -> bool:
        if it.mask is None:
            return False
        if _near(it.box, box):
            return True
        if abs(created - it.created) > self.rule.still_s:
            return False
        if _stacked(it.box, box):
            return True
        x0, y0, x1, y1 = it.box
        theirs = groups[y0:y1, x0:x1][it.mask[y0:y1, x0:x1]]
        return bool(np.isin(labels[labels > 0], theirs[theirs > 0]).any())

    def _merge_pieces(self, groups: np.ndarray) -> None:
        """Join items that turn out to be pieces of one object (see ``_add_piece``)."""
        merged = True
        while merged:
            merged = False
            for i, a in enumerate(self._items):
                for b in self._items[i + 1 :]:
                    if a.mask is None or b.mask is None:
                        continue
                    bx0, by0, bx1, by1 = b.box
                    labels = np.unique(groups[by0:by1, bx0:bx1][b.mask[by0:by1, bx0:bx1]])
                    if self._same_object(a, b.box, labels, b.created, groups):
                        a.mask |= b.mask
                        a.box = _union(a.box, b.box)
                        a.first_seen = min(a.first_seen, b.first_seen)
                        self._items.remove(b)
                        merged = True
                        break
                if merged:
                    break

    def _detector_item_at(self, box: tuple[int, int, int, int]) -> _Item | None:
        found = [it for it in self._items if it.mask is None and it.det_xyxy is not None]
        ious = _ious([self._to_work(it.det_xyxy) for it in found if it.det_xyxy is not None], box)
        return next((it for it, iou in zip(found, ious, strict=True) if iou >= 0.3), None)

    def _update_presence(self, t: float, differs: np.ndarray, busy: np.ndarray) -> None:
        """Drop items whose pixels look like the counter again (taken away) for ``gone_s``.

        While a hand moves or a person stands over an item nothing is decided: the hand that
        takes an item away hides it as well, and a person's shadow or the camera's exposure
        reacting to them can make an item that is still there look like the counter.
        """
        kept = []
        for it in self._items:
            present = t - it.det_t <= self.detector_hold_s
            if it.mask is not None and not present:
                x0, y0, x1, y1 = it.box
                m = it.mask[y0:y1, x0:x1]
                total = np.count_nonzero(m)
                present = bool(total > 0) and bool(
                    np.count_nonzero(differs[y0:y1, x0:x1] & m) >= 0.35 * total
                    or np.count_nonzero(busy[y0:y1, x0:x1]) >= 0.05 * m.size
                )
            if present:
                it.missing_since = None
            elif it.missing_since is None:
                it.missing_since = t
            if it.missing_since is not None and t - it.missing_since >= self.gone_s - 1e-6:
                continue
            kept.append(it)
        self._items = kept

    def _merge_detections(self, frame: Frame, t: float, dets: sv.Detections, persons: sv.Detections) -> None:
        names = dets.data.get("class_name") if dets.data else None
        person_boxes = np.asarray(persons.xyxy, dtype=np.float64).reshape(-1, 4)
        # a candidate the detector missed for a moment keeps its clock
        fresh = [c for c in self._candidates if t - c.last_t <= self.detector_hold_s]
        for i, xyxy in enumerate(np.asarray(dets.xyxy, dtype=np.float64).reshape(-1, 4)):
            cx, cy = (xyxy[0] + xyxy[2]) / 2, (xyxy[1] + xyxy[3]) / 2
            if cv2.pointPolygonTest(self._poly_full, (float(cx), float(cy)), False) < 0:
                continue
            label = str(names[i]) if names is not None else "item"
            box = (float(xyxy[0]), float(xyxy[1]), float(xyxy[2]), float(xyxy[3]))
            k, iou = _best([self._to_full(it.box) for it in self._items], box)
            if k >= 0 and iou >= 0.3:
                match = self._items[k]
                match.det_xyxy, match.det_t = box, t
                if label != "item":
                    match.label = label
                continue
            area = (xyxy[2] - xyxy[0]) * (xyxy[3] - xyxy[1])
            if area > 0 and any(self._overlap(xyxy, p) / area > 0.5 for p in person_boxes):
                continue  # in someone's hand or under their arm: not lying on the counter
            k, iou = _best([c.xyxy for c in fresh], xyxy)
            prev = fresh[k] if k >= 0 else None
            if prev is not None and prev.label == label and iou >= 0.5:
                prev.xyxy, prev.last_t = xyxy, t
                cand = prev
            else:
                cand = _Candidate(xyxy=xyxy, label=label, since=t, last_t=t)
                fresh.append(cand)
            if t - cand.since >= self.rule.still_s - 1e-6:
                fresh.remove(cand)
                self._items.append(
                    _Item(
                        item_id=next(self._ids),
                        label=label,
                        first_seen=frame.ts - timedelta(seconds=t - cand.since),
                        mask=None,
                        box=self._to_work(xyxy),
                        det_xyxy=box,
                        det_t=t,
                        created=t,
                    )
                )
        self._candidates = fresh

    @staticmethod
    def _overlap(a: np.ndarray, b: np.ndarray) -> float:
        return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))

    def _report(self, frame: Frame, t: float) -> tuple[ItemObs, ...]:
        out = []
        for it in self._items:
            if it.det_xyxy is not None and t - it.det_t <= self.detector_hold_s:
                xyxy = it.det_xyxy
            else:
                xyxy = self._to_full(it.box)
            out.append(ItemObs(item_id=it.item_id, xyxy=xyxy, label=it.label, zone=self.zone.name,
                               first_seen=it.first_seen))
        return tuple(sorted(out, key=lambda o: o.item_id))
