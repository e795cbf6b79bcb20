"""The detector stage interface that the pipeline, the benchmarks and the tests code against.

Every backend returns the same thing: a ``supervision.Detections`` in full-resolution pixel
coordinates that holds only the classes the rules care about (the person class and the configured
item classes), already thresholded and non-max suppressed. Doing that filtering here, once, means a
tracker or a rule never has to know which model produced a box or how noisy its raw output is.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import supervision as sv

from vision.config import DetectorConfig
from vision.errors import ConfigError, ModelLoadError


def check_image(image: np.ndarray) -> None:
    """Refuse what would otherwise fail deep inside OpenCV or onnxruntime with an opaque message."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(
            f"image: expected a BGR uint8 array of shape (H, W, 3); got shape {shape}, dtype {dtype}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image: expected a non-empty (H, W, 3) array; got shape {image.shape}")


def require_file(path: Path | None, kind: str, expects: str) -> Path:
    """Fail on a missing model before a backend library reports it (or tries to download it)."""
    if path is None:
        raise ModelLoadError(f"{kind} needs a model file (detector.model: PATH) with {expects}")
    if not path.is_file():
        what = "is not a file" if path.exists() else "is not found"
        raise ModelLoadError(f"{kind}: model file {path} {what} (expected {expects})")
    return path


def _class_index(names: Sequence[str], wanted: str, key: str, model: str) -> int:
    try:
        return list(names).index(wanted)
    except ValueError:
        known = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        msg = f"detector.{key}: {wanted!r} is not a class of {model} (its classes: {known})"
        raise ConfigError(msg, [msg]) from None


@dataclass(frozen=True, slots=True)
class DetectTimes:
    """Seconds one detect call spent in "preprocess" and in "detect" (inference + postprocess),
    returned with its detections so the pipeline can report them as separate stages."""

    preprocess: float = 0.0
    detect: float = 0.0

    def __add__(self, other: DetectTimes) -> DetectTimes:
        return DetectTimes(self.preprocess + other.preprocess, self.detect + other.detect)

    def share(self, n: int) -> DetectTimes:
        """One image's part of a batch of ``n``."""
        return DetectTimes(self.preprocess / n, self.detect / n) if n > 0 else self


@runtime_checkable
class FrameDetector(Protocol):
    """What the pipeline and the runner need of a detector: every backend (``Detector``), the
    shared and batching fronts (``vision.batching``) and the test doubles."""

    name: str
    class_names: list[str]
    person_class_id: int

    def detect(self, image: np.ndarray) -> sv.Detections:
        """Detections for one BGR uint8 image, in that image's pixel coordinates."""
        ...

    def detect_timed(self, image: np.ndarray) -> tuple[sv.Detections, DetectTimes]:
        """``detect``, and the time it spent per stage."""
        ...


class Detector(abc.ABC):
    """Finds persons and counter items in one BGR image.

    Subclasses produce raw candidate boxes and hand them to ``_finish``; the class selection,
    confidence threshold, clipping and class-aware NMS live here so every backend applies them
    the same way. Class-aware NMS matters for the counter rule: a phone held in a hand overlaps
    the person box heavily, and class-agnostic NMS would delete one of them.
    """

    name: str
    class_names: list[str]
    person_class_id: int

    def __init__(self, cfg: DetectorConfig, class_names: Sequence[str], name: str) -> None:
        self.cfg = cfg
        self.name = name
        self.class_names = [str(n) for n in class_names]
        self.person_class_id = _class_index(self.class_names, cfg.person_class, "person_class", name)
        self.item_class_ids = [
            _class_index(self.class_names, c, "item_classes", name) for c in cfg.item_classes
        ]
        # classes a rule watches (cash_escort's cash boxes) are kept too; the config checked them
        carried = [_class_index(self.class_names, c, "cash_escort item_classes", name) for c in cfg.carried_classes]
        self.keep_class_ids = np.array(sorted({self.person_class_id, *self.item_class_ids, *carried}),
                                       dtype=np.int64)
        self._names = np.array(self.class_names, dtype=str)

    @property
    def floor(self) -> float:
        """Lowest score returned: person boxes down to ``low_confidence`` (for the tracker's second
        association), every other class down to ``confidence``."""
        return min(self.cfg.confidence, self.cfg.low_confidence)

    @property
    def supports_batch(self) -> bool:
        """True when ``detect_batch`` runs several images in one inference call."""
        return False

    @abc.abstractmethod
    def detect(self, image: np.ndarray) -> sv.Detections:
        """Detections for one BGR uint8 image, in that image's pixel coordinates."""

    def detect_timed(self, image: np.ndarray) -> tuple[sv.Detections, DetectTimes]:
        """``detect`` and its cost; backends that tell preprocessing from inference override this
        (and make ``detect`` return its detections)."""
        t0 = time.perf_counter()
        dets = self.detect(image)
        return dets, DetectTimes(detect=time.perf_counter() - t0)

    def detect_batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        """One call for several images; backends that can run a real batch override this."""
        return [self.detect(image) for image in images]

    def detect_batch_timed(self, images: list[np.ndarray]) -> tuple[list[sv.Detections], DetectTimes]:
        """``detect_batch`` and its cost over the whole batch."""
        if type(self).detect_batch is Detector.detect_batch:  # no real batch: sum the single calls
            return self._each_timed(images)
        t0 = time.perf_counter()
        found = self.detect_batch(images)
        return found, DetectTimes(detect=time.perf_counter() - t0)

    def _each_timed(self, images: list[np.ndarray]) -> tuple[list[sv.Detections], DetectTimes]:
        out, total = [], DetectTimes()
        for image in images:
            dets, times = self.detect_timed(image)
            out.append(dets)
            total += times
        return out, total

    def _finish(
        self, xyxy: np.ndarray, confidence: np.ndarray, class_id: np.ndarray, image_shape: tuple[int, ...]
    ) -> sv.Detections:
        """Keep the wanted classes above the threshold, clip to the image, then suppress duplicates.

        Candidates are thresholded before NMS so that NMS works on tens of boxes, not thousands.
        Persons are kept down to ``floor`` (a box below ``confidence`` only extends a track), other
        classes down to ``confidence``. Greedy NMS keeps a box only when no higher-scored box of its
        class overlaps it, so the boxes at or above ``confidence`` are the same as a run at that
        threshold would give.
        """
        threshold = np.where(class_id == self.person_class_id, self.floor, self.cfg.confidence)
        keep = (confidence >= threshold) & np.isin(class_id, self.keep_class_ids)
        if not keep.any():
            return self._empty()
        h, w = int(image_shape[0]), int(image_shape[1])
        boxes = np.asarray(xyxy[keep], dtype=np.float32).copy()
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
        conf = np.asarray(confidence[keep], dtype=np.float32)
        cls = np.asarray(class_id[keep], dtype=np.int64)
        area_ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        order = np.argsort(-conf[area_ok], kind="stable")
        boxes, conf, cls = boxes[area_ok][order], conf[area_ok][order], cls[area_ok][order]
        if len(boxes) == 0:
            return self._empty()
        dets = sv.Detections(xyxy=boxes, confidence=conf, class_id=cls)
        dets = dets.with_nms(threshold=self.cfg.nms_iou, class_agnostic=False)
        dets.data["class_name"] = self._names[dets.class_id]
        return dets

    def _empty(self) -> sv.Detections:
        return sv.Detections(
            xyxy=np.empty((0, 4), dtype=np.float32),
            confidence=np.empty(0, dtype=np.float32),
            class_id=np.empty(0, dtype=np.int64),
            data={"class_name": np.empty(0, dtype=str)},
        )


class StageTimer:
    """Splits one detect call into the two stages the pipeline reports (preprocess, detect)."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()
        self._t1 = self._t0

    def preprocessed(self) -> None:
        self._t1 = time.perf_counter()

    def timings(self) -> DetectTimes:
        return DetectTimes(self._t1 - self._t0, time.perf_counter() - self._t1)
