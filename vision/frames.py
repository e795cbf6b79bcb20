"""The typed envelope that carries one decoded image between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded image from a camera.

    ``t`` is media time in seconds from the source's first frame (files) or wall-clock seconds
    since the source was opened (live streams); ``ts`` is the wall-clock time the frame stands
    for: ``replay_start + t`` for files, capture time for live sources. ``captured_at`` is
    ``time.perf_counter()`` when decoding finished, used for end-to-end latency.

    ``lead_in`` holds the frames the decoder produced since the previous analysed frame that
    ``analysis_fps`` sampling passed over (oldest first; only when the source was opened with
    ``every_frame=True``): they are not analysed, but evidence clips play at the source's rate.
    """

    camera_id: str
    index: int
    t: float
    ts: datetime
    image: np.ndarray
    captured_at: float = 0.0
    metadata: dict[str, object] = field(default_factory=dict)
    lead_in: tuple[Frame, ...] = ()

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass(frozen=True, slots=True)
class SourceGap:
    """A source delivered no frames between ``started`` and ``ended``: a live one's outage (wall
    clock), or a recording's hole of ``camera_offline``'s ``grace_s`` or more (media time)."""

    camera_id: str
    started: datetime
    ended: datetime | None
    reason: str
