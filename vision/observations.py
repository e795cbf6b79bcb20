"""What the rules see each analysed frame: per-zone occupancy, staff identity and counter items.

The pipeline builds one ``Observation`` per analysed frame from tracked detections; rules are
state machines over these and never look at pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vision.config import ZoneKind


@dataclass(frozen=True, slots=True)
class TrackObs:
    """A tracked person. ``is_staff`` is None while identity is undecided."""

    track_id: int
    xyxy: tuple[float, float, float, float]
    confidence: float
    is_staff: bool | None
    zones: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ItemObs:
    """Something lying still on a counter zone (cash, seal, card, voucher, phone...)."""

    item_id: int
    xyxy: tuple[float, float, float, float]
    label: str
    zone: str
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class ObjectObs:
    """A detector box of a class a rule watches other than persons (a bag, a cash box)."""

    label: str
    xyxy: tuple[float, float, float, float]
    confidence: float
    zones: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ZoneState:
    name: str
    kind: ZoneKind
    persons: int = 0
    staff: int = 0
    staff_track_ids: tuple[int, ...] = ()
    non_staff_track_ids: tuple[int, ...] = ()
    undecided_track_ids: tuple[int, ...] = ()
    items: tuple[ItemObs, ...] = ()


@dataclass(frozen=True, slots=True)
class Observation:
    camera_id: str
    index: int
    t: float
    ts: datetime
    zones: dict[str, ZoneState] = field(default_factory=dict)
    tracks: tuple[TrackObs, ...] = ()
    objects: tuple[ObjectObs, ...] = ()
    frame_size: tuple[int, int] = (0, 0)  # width, height in pixels (0: unknown)
    # the tracker (and staff identity) has not yet had the frames it needs to confirm the people in
    # view, after the stream started or came back: rules must not judge a zone empty or short of staff
    warming: bool = False
    # camera_tamper's reading of this frame: "covered", "moved", "defocused", or None (the view is
    # as it should be, or no camera_tamper rule watches this camera); the figures behind it
    tamper: str | None = None
    tamper_details: dict[str, Any] | None = None
