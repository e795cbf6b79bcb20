"""Sharing detectors between camera threads, batching their frames where the model allows.

``SharedDetector`` serialises calls into one detector (OpenCV DNN networks are not thread-safe).
``DetectorPool`` holds ``detector.workers`` copies, each with its share of the thread budget, and
lends a free one to each camera thread: on a 2-core box two single-threaded copies run more
frames a second than one copy with two threads, whose small layers leave a core idle between
them. ``BatchingDetector`` is used when the model takes a dynamic batch: frames that arrive from
several cameras within ``max_wait_s`` go through one inference call.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import numpy as np
import supervision as sv

from vision.detectors.base import Detector, DetectTimes, FrameDetector

_Answer = tuple[sv.Detections, DetectTimes]


class SharedDetector(FrameDetector):
    """Serialises calls into one detector shared by several camera threads."""

    def __init__(self, inner: FrameDetector) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.class_names = inner.class_names
        self.person_class_id = inner.person_class_id
        self.name = inner.name

    def detect(self, image: np.ndarray) -> sv.Detections:
        return self.detect_timed(image)[0]

    def detect_timed(self, image: np.ndarray) -> tuple[sv.Detections, DetectTimes]:
        with self._lock:
            return self._inner.detect_timed(image)


class DetectorPool(FrameDetector):
    """Lends each camera thread a free detector of several; a thread waits while all are busy."""

    def __init__(self, detectors: Sequence[FrameDetector]) -> None:
        if not detectors:
            raise ValueError("a detector pool needs at least one detector")
        first = detectors[0]
        self.class_names = first.class_names
        self.person_class_id = first.person_class_id
        self.name = first.name
        self.size = len(detectors)
        self._free: queue.SimpleQueue[FrameDetector] = queue.SimpleQueue()
        for d in detectors:
            self._free.put(d)

    def detect(self, image: np.ndarray) -> sv.Detections:
        return self.detect_timed(image)[0]

    def detect_timed(self, image: np.ndarray) -> tuple[sv.Detections, DetectTimes]:
        d = self._free.get()
        try:
            return d.detect_timed(image)
        finally:
            self._free.put(d)


class BatchingDetector(FrameDetector):
    """Collects frames from camera threads and runs them through ``detect_batch`` together."""

    def __init__(self, inner: Detector, max_batch: int, max_wait_s: float = 0.01) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0, got {max_wait_s}")
        self._inner = inner
        self.class_names = inner.class_names
        self.person_class_id = inner.person_class_id
        self.name = inner.name
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._cond = threading.Condition()
        self._queue: list[tuple[np.ndarray, Future[_Answer]]] = []
        self._closed = False
        self.batches: list[int] = []  # sizes of the batches run, for bench and tests
        self._thread = threading.Thread(target=self._run, name="detector-batcher", daemon=True)
        self._thread.start()

    def detect(self, image: np.ndarray) -> sv.Detections:
        return self.detect_timed(image)[0]

    def detect_timed(self, image: np.ndarray) -> tuple[sv.Detections, DetectTimes]:
        """This image's detections and its share of the batch's time."""
        fut: Future[_Answer] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the batching detector is closed")
            self._queue.append((image, fut))
            self._cond.notify_all()
        return fut.result()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _take(self) -> list[tuple[np.ndarray, Future[_Answer]]]:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if not self._queue:
                return []
            deadline = time.monotonic() + self.max_wait_s
            while len(self._queue) < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    break
                self._cond.wait(left)
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                return
            try:
                results, times = self._inner.detect_batch_timed([img for img, _ in batch])
            except Exception as exc:  # hand the failure to every waiting camera thread  # noqa: BLE001
                for _, fut in batch:
                    fut.set_exception(exc)
                continue
            self.batches.append(len(batch))
            share = times.share(len(batch))
            for (_, fut), dets in zip(batch, results, strict=True):
                fut.set_result((dets, share))


def shared_detector(
    inner: FrameDetector, cameras: int, more: Callable[[], FrameDetector] | None = None, workers: int = 1,
) -> SharedDetector | BatchingDetector | DetectorPool:
    """A batching front for several cameras on a batch-capable model; else, with ``workers`` > 1
    and more than one camera, a pool of ``inner`` and ``workers - 1`` more from ``more``; else a
    locked ``inner``."""
    if cameras > 1 and isinstance(inner, Detector) and inner.supports_batch:
        return BatchingDetector(inner, max_batch=cameras)
    n = min(workers, cameras)
    if n > 1 and more is not None:
        return DetectorPool([inner, *(more() for _ in range(n - 1))])
    return SharedDetector(inner)
