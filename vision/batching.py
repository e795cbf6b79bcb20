"""Sharing one detector between camera threads, batching their frames where the model allows.

On a 2-core box a second detector running at the same time only fights the first for the same
cores, so every camera thread goes through one detector. ``SharedDetector`` serialises calls
(OpenCV DNN networks are not thread-safe). ``BatchingDetector`` is used when the model takes a
dynamic batch: frames that arrive from several cameras within ``max_wait_s`` go through one
inference call, which costs less per frame than one call each.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Any

import numpy as np
import supervision as sv

from vision.detectors.base import Detector


class SharedDetector:
    """Serialises calls into one detector shared by several camera threads."""

    def __init__(self, inner: Detector) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.class_names = inner.class_names
        self.person_class_id = inner.person_class_id
        self.name = inner.name
        self._local = threading.local()

    @property
    def last_timings(self) -> dict[str, float]:
        """The timings of this thread's last call (another camera's call may have come since)."""
        return getattr(self._local, "timings", {})

    def detect(self, image: np.ndarray) -> sv.Detections:
        with self._lock:
            dets = self._inner.detect(image)
            self._local.timings = dict(getattr(self._inner, "last_timings", {}) or {})
        return dets


class BatchingDetector:
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
        self._queue: list[tuple[np.ndarray, Future[Any]]] = []
        self._local = threading.local()
        self._closed = False
        self.batches: list[int] = []  # sizes of the batches run, for bench and tests
        self._thread = threading.Thread(target=self._run, name="detector-batcher", daemon=True)
        self._thread.start()

    @property
    def last_timings(self) -> dict[str, float]:
        return getattr(self._local, "timings", {})

    def detect(self, image: np.ndarray) -> sv.Detections:
        fut: Future[Any] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the batching detector is closed")
            self._queue.append((image, fut))
            self._cond.notify_all()
        dets, timings = fut.result()
        self._local.timings = timings
        return dets

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _take(self) -> list[tuple[np.ndarray, Future[Any]]]:
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
                results = self._inner.detect_batch([img for img, _ in batch])
            except Exception as exc:  # hand the failure to every waiting camera thread  # noqa: BLE001
                for _, fut in batch:
                    fut.set_exception(exc)
                continue
            self.batches.append(len(batch))
            n = len(batch)
            timings = {k: v / n for k, v in (getattr(self._inner, "last_timings", {}) or {}).items()}
            for (_, fut), dets in zip(batch, results, strict=True):
                fut.set_result((dets, timings))


def shared_detector(inner: Detector, cameras: int) -> SharedDetector | BatchingDetector:
    """A batching front for several cameras on a batch-capable model, else a locked one."""
    if cameras > 1 and getattr(inner, "supports_batch", False):
        return BatchingDetector(inner, max_batch=cameras)
    return SharedDetector(inner)
