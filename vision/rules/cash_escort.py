"""Cash escort (双人持械护送款箱): a cash box carried through the zone must have at least
``min_staff`` staff within ``radius`` (a fraction of the frame width) of it.

COCO has no cash-box class, so by default a bag (suitcase, handbag, backpack) stands in for it;
a bank that trains its own ``cash_box`` class names it in ``item_classes``. A box counts while a
person's box overlaps it (someone carries it): a bag standing on the floor is not a transfer.
The carrier counts as an escort when they are staff.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vision.config import CashEscortRule as CashEscortConfig
from vision.events import RuleType
from vision.observations import ObjectObs, Observation, TrackObs
from vision.rules.base import Tally, TemporalRule


@dataclass(frozen=True, slots=True)
class EscortSample:
    """The worst-escorted box of this frame."""

    label: str
    box: tuple[float, float, float, float]
    staff: int
    staff_track_ids: tuple[int, ...]
    carrier_track_ids: tuple[int, ...]


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _centre(box: tuple[float, ...]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0


class _EscortTally(Tally[EscortSample]):
    def __init__(self, min_staff: int) -> None:
        self.min_staff = min_staff
        self.min_seen: int | None = None
        self.labels: list[str] = []
        self.box: tuple[float, float, float, float] | None = None
        self.tracks: set[int] = set()
        self.worst_at: datetime | None = None

    def add(self, sample: EscortSample, ts: datetime) -> bool:
        material = False
        if self.min_seen is None or sample.staff < self.min_seen:
            self.min_seen, self.worst_at, self.box = sample.staff, ts, sample.box
            material = True
        if sample.label not in self.labels:
            self.labels.append(sample.label)
            material = True
        ids = {t for t in (*sample.staff_track_ids, *sample.carrier_track_ids) if t >= 0}
        if not self.tracks.issuperset(ids):
            self.tracks.update(ids)
            material = True
        return material

    def details(self) -> dict[str, Any]:
        return {
            "item": self.labels[0] if self.labels else None,
            "classes": list(self.labels),
            "min_staff_seen": self.min_seen if self.min_seen is not None else 0,
            "min_staff": self.min_staff,
            "box": [round(float(v), 1) for v in self.box] if self.box is not None else None,
        }

    def track_ids(self) -> list[int]:
        return sorted(self.tracks)


class CashEscortRule(TemporalRule[CashEscortConfig, EscortSample]):
    """A carried box of ``item_classes`` in the zone with fewer than ``min_staff`` staff near it."""

    type = RuleType.cash_escort
    config_type = CashEscortConfig

    def _judge(self, obj: ObjectObs, tracks: tuple[TrackObs, ...], reach: float) -> EscortSample | None:
        carriers = [t for t in tracks if _overlaps(t.xyxy, obj.xyxy)]
        if not carriers:
            return None
        cx, cy = _centre(obj.xyxy)
        near = [t for t in tracks if t.is_staff is True and math.dist(_centre(t.xyxy), (cx, cy)) <= reach]
        if len(near) >= self.config.min_staff:
            return None
        return EscortSample(obj.label, obj.xyxy, len(near), tuple(t.track_id for t in near),
                            tuple(t.track_id for t in carriers))

    def sample(self, obs: Observation) -> EscortSample | None:
        width = obs.frame_size[0]
        if width <= 0:  # boxes in normalised coordinates
            width = 1
        reach = self.config.radius * width
        worst: EscortSample | None = None
        for obj in obs.objects:
            if obj.label not in self.config.item_classes or self.zone not in obj.zones:
                continue
            s = self._judge(obj, obs.tracks, reach)
            if s is not None and (worst is None or s.staff < worst.staff):
                worst = s
        return worst

    def new_tally(self) -> _EscortTally:
        return _EscortTally(self.config.min_staff)
