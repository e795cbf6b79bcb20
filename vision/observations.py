"""What the rules see each analysed frame: per-zone occupancy, staff identity and counter items.

The pipeline's stages build up ``sv.Detections`` (the frame's record); ``observe`` turns them into
one ``Observation`` per analysed frame. Rules are state machines over these and never look at
pixels.

The columns the stages add, by name:

* persons: ``tracker_id`` (-1 while unconfirmed), ``data["zones"]`` (a frozenset of zone names
  per box), ``data["is_staff"]`` (True / False / None per box, None while undecided);
* counter items (their own Detections): ``tracker_id`` (the item id), ``data["label"]``,
  ``data["zone"]`` and ``data["first_seen"]`` (a datetime);
* objects (the detector boxes of a class a rule watches): ``data["class_name"]``, ``data["zones"]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import supervision as sv

from vision.config import ZoneKind

ZONES = "zones"  # persons and objects: the names of the zones each box is in
IS_STAFF = "is_staff"  # persons: True / False / None (undecided)
LABEL, ZONE, FIRST_SEEN = "label", "zone", "first_seen"  # counter items


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


def column(values: Sequence[Any]) -> np.ndarray:
    """A 1-d object array holding ``values`` as they are (frozensets, None, datetimes)."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


def _box(xyxy: np.ndarray) -> tuple[float, float, float, float]:
    return tuple(float(v) for v in xyxy)  # type: ignore[return-value]


def _conf(dets: sv.Detections, i: int) -> float:
    return float(dets.confidence[i]) if dets.confidence is not None else 1.0


def track_obs(persons: sv.Detections) -> tuple[TrackObs, ...]:
    """The tracked persons with their ``zones`` and ``is_staff`` columns as ``TrackObs``."""
    n = len(persons)
    ids = persons.tracker_id if persons.tracker_id is not None else np.full(n, -1)
    zones = persons.data.get(ZONES, column([frozenset()] * n))
    staff = persons.data.get(IS_STAFF, column([None] * n))
    return tuple(TrackObs(int(ids[i]), _box(persons.xyxy[i]), _conf(persons, i), staff[i], zones[i]) for i in range(n))


def item_obs(items: sv.Detections) -> tuple[ItemObs, ...]:
    """Counter items (their own Detections) as ``ItemObs``."""
    if len(items) == 0 or items.tracker_id is None:
        return ()
    return tuple(
        ItemObs(int(items.tracker_id[i]), _box(items.xyxy[i]), items.data[LABEL][i], items.data[ZONE][i],
                items.data[FIRST_SEEN][i])
        for i in range(len(items))
    )


def items_as_detections(items: Sequence[ItemObs]) -> sv.Detections:
    """``ItemObs`` (what a counter watcher reports) as their own Detections."""
    if not items:
        return sv.Detections.empty()
    return sv.Detections(
        xyxy=np.asarray([it.xyxy for it in items], dtype=np.float64),
        class_id=np.zeros(len(items), dtype=int),
        tracker_id=np.asarray([it.item_id for it in items], dtype=int),
        data={LABEL: column([it.label for it in items]), ZONE: column([it.zone for it in items]),
              FIRST_SEEN: column([it.first_seen for it in items])},
    )


def object_obs(objects: sv.Detections) -> tuple[ObjectObs, ...]:
    if len(objects) == 0:
        return ()
    names, zones = objects.data["class_name"], objects.data[ZONES]
    return tuple(ObjectObs(str(names[i]), _box(objects.xyxy[i]), _conf(objects, i), zones[i])
                 for i in range(len(objects)))


def zone_state(name: str, kind: ZoneKind, tracks: Sequence[TrackObs], items: tuple[ItemObs, ...]) -> ZoneState:
    inside = [o for o in tracks if name in o.zones]
    staff_ids = tuple(o.track_id for o in inside if o.is_staff is True)
    return ZoneState(
        name=name,
        kind=kind,
        persons=len(inside),
        staff=len(staff_ids),
        staff_track_ids=staff_ids,
        non_staff_track_ids=tuple(o.track_id for o in inside if o.is_staff is False and o.track_id >= 0),
        undecided_track_ids=tuple(o.track_id for o in inside if o.is_staff is None),
        items=items,
    )


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """Which frame an observation is of."""

    camera_id: str
    index: int
    t: float
    ts: datetime
    frame_size: tuple[int, int]


def observe(
    frame: FrameInfo,
    zones: Iterable[tuple[str, ZoneKind]],
    persons: sv.Detections,
    items: sv.Detections,
    objects: sv.Detections,
    *,
    warming: bool = False,
    tamper: str | None = None,
    tamper_details: dict[str, Any] | None = None,
) -> Observation:
    """The rules' view of one frame, from the stages' Detections (see the module docstring)."""
    tracks = track_obs(persons)
    by_zone: dict[str, list[ItemObs]] = {}
    for item in item_obs(items):
        by_zone.setdefault(item.zone, []).append(item)
    states = {name: zone_state(name, kind, tracks, tuple(by_zone.get(name, ()))) for name, kind in zones}
    return Observation(frame.camera_id, frame.index, frame.t, frame.ts, states, tracks, warming=warming,
                       objects=object_obs(objects), frame_size=frame.frame_size, tamper=tamper,
                       tamper_details=tamper_details)
