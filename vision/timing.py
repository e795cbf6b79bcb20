"""Per-stage latency records: every stage is timed, and ``bench`` reports percentiles."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

STAGES = ("decode", "preprocess", "detect", "track", "zones", "staff", "items", "rules", "evidence", "end_to_end")


class StageTimes:
    """Thread-safe bounded samples of stage durations in seconds (newest kept)."""

    def __init__(self, max_samples: int = 200_000) -> None:
        self._samples: dict[str, list[float]] = defaultdict(list)
        self._counts: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._max = max_samples

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            samples = self._samples[stage]
            samples.append(seconds)
            if len(samples) > self._max:
                del samples[: len(samples) - self._max]
            self._counts[stage] += 1

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - start)

    def count(self, stage: str) -> int:
        return self._counts.get(stage, 0)

    def summary(self) -> dict[str, dict[str, float]]:
        """{stage: {p50_ms, p95_ms, p99_ms, mean_ms, count}}"""
        out: dict[str, dict[str, float]] = {}
        with self._lock:
            items = {k: np.asarray(v) for k, v in self._samples.items() if v}
            counts = dict(self._counts)
        order = [s for s in STAGES if s in items] + sorted(k for k in items if k not in STAGES)
        for stage in order:
            arr = items[stage] * 1000.0
            p50, p95, p99 = np.percentile(arr, [50, 95, 99])
            out[stage] = {
                "p50_ms": round(float(p50), 3),
                "p95_ms": round(float(p95), 3),
                "p99_ms": round(float(p99), 3),
                "mean_ms": round(float(arr.mean()), 3),
                "count": counts.get(stage, len(arr)),
            }
        return out
