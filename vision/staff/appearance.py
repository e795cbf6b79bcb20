"""The appearance judges (``uniform``, ``reid``): votes over scored crops of each track."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vision.config import ZoneConfig, ZoneKind
from vision.staff.common import Verdict, _box_crop
from vision.staff.judges import _trim
from vision.staff.reid import ReidGallery, ReidModel
from vision.staff.uniform import UniformProfile


class _Scorer(Protocol):
    interval_s: float
    max_per_frame: int

    def scores(self, crops: list[np.ndarray]) -> list[float | None]: ...


class _UniformScorer:
    interval_s = 0.0  # a histogram costs well under a millisecond
    max_per_frame = 64

    def __init__(self, profile: UniformProfile) -> None:
        self.profile = profile

    def scores(self, crops: list[np.ndarray]) -> list[float | None]:
        return [self.profile.score(c) for c in crops]


class _ReidScorer:
    """Re-ID costs ~10-20 ms a crop on a small CPU, so each track is scored only every
    ``interval_s`` and at most ``max_per_frame`` crops a frame."""

    def __init__(self, model: ReidModel, gallery: ReidGallery, interval_s: float, max_per_frame: int) -> None:
        self.model, self.gallery = model, gallery
        self.interval_s, self.max_per_frame = interval_s, max_per_frame
        self.runs = 0
        self.seconds = 0.0

    def scores(self, crops: list[np.ndarray]) -> list[float | None]:
        usable = [i for i, c in enumerate(crops) if c.shape[0] >= 32 and c.shape[1] >= 16]
        out: list[float | None] = [None] * len(crops)
        if usable:
            t0 = time.perf_counter()
            emb = self.model.embed([crops[i] for i in usable])
            self.seconds += time.perf_counter() - t0
            self.runs += len(usable)
            for i, s in zip(usable, self.gallery.similarity(emb), strict=True):
                out[i] = float(s)
        return out


@dataclass
class _Votes:
    last_t: float
    last_eval_t: float = -math.inf
    staff: int = 0
    total: int = 0
    last_score: float | None = None
    decided: bool | None = None


class _AppearanceJudge:
    """Votes per track over ``min_evidence`` scored crops; ties count as staff."""

    def __init__(
        self,
        scorer: _Scorer,
        threshold: float,
        zones: list[ZoneConfig],
        min_evidence: int,
        *,
        forget_s: float,
        max_tracks: int,
        what: str,
    ) -> None:
        self.scorer = scorer
        self.threshold = threshold
        self.teller_zones = {z.name for z in zones if z.kind == ZoneKind.teller_area}
        self.min_evidence = min_evidence
        self.forget_s = forget_s
        self.max_tracks = max_tracks
        self.what = what
        self.tracks: dict[int, _Votes] = {}
        self.last_t: float | None = None

    def _forget(self, t: float) -> None:
        _trim(self.tracks, t, self.forget_s, self.max_tracks)

    def update(
        self, image: np.ndarray, ids: list[int], boxes: np.ndarray, zones: list[frozenset[str]], t: float
    ) -> dict[int, Verdict]:
        if self.last_t is not None and t < self.last_t:
            self.tracks.clear()
        self.last_t = t
        self._forget(t)
        due: list[tuple[tuple[int, int, float], int, np.ndarray]] = []
        for tid, box, names in zip(ids, boxes, zones, strict=True):
            v = self.tracks.setdefault(tid, _Votes(last_t=t))
            v.last_t = t
            if v.decided is None and t - v.last_eval_t >= self.scorer.interval_s:
                # people inside a teller area first: they are the ones the rules are waiting on
                in_teller = 0 if (names & self.teller_zones or not self.teller_zones) else 1
                due.append(((in_teller, v.total, v.last_eval_t), tid, box))
        due.sort(key=lambda d: d[0])
        picked = []
        for _, tid, box in due[: self.scorer.max_per_frame]:
            crop = _box_crop(image, box)
            if crop is not None:
                picked.append((tid, crop))
        if picked:
            for (tid, _), score in zip(picked, self.scorer.scores([c for _, c in picked]), strict=True):
                v = self.tracks[tid]
                v.last_eval_t = t
                if score is None:
                    continue
                v.last_score = score
                v.total += 1
                v.staff += int(score >= self.threshold)
                if v.total >= self.min_evidence:
                    v.decided = 2 * v.staff >= v.total
        return {tid: self.tracks[tid].decided for tid in ids}

    def describe(self, track_id: int) -> str | None:
        v = self.tracks.get(track_id)
        if v is None or v.decided is None:
            return None
        verdict = "matches" if v.decided else "does not match"
        return (
            f"{verdict} the enrolled {self.what} ({v.staff} of {v.total} looks scored "
            f"{self.threshold:.2f} or more, last {v.last_score:.2f})"
        )
