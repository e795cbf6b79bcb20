"""What every judge shares, and the constant judges (``everyone``, ``nobody``)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from vision.staff.common import Verdict


class _Judge(Protocol):
    def update(
        self, image: np.ndarray, ids: list[int], boxes: np.ndarray, zones: list[frozenset[str]], t: float
    ) -> dict[int, Verdict]: ...

    def describe(self, track_id: int) -> str | None: ...


def _trim(tracks: dict[int, Any], t: float, forget_s: float, max_tracks: int) -> None:
    """Drop tracks unseen for ``forget_s``, then the longest unseen beyond ``max_tracks``, so a
    camera that runs for months keeps a bounded amount of state."""
    for k in [k for k, st in tracks.items() if t - st.last_t > forget_s]:
        del tracks[k]
    excess = len(tracks) - max_tracks
    if excess > 0:
        for k in sorted(tracks, key=lambda k: tracks[k].last_t)[:excess]:
            del tracks[k]


class _Constant:
    def __init__(self, value: bool) -> None:
        self.value = value

    def update(
        self, image: np.ndarray, ids: list[int], boxes: np.ndarray, zones: list[frozenset[str]], t: float
    ) -> dict[int, Verdict]:
        return {tid: self.value for tid in ids}

    def describe(self, track_id: int) -> str | None:
        return "everyone counts as staff" if self.value else "nobody counts as staff"
