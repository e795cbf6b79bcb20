"""Tailgating (防尾随联动门): more than ``max_persons`` distinct persons enter a door zone within
``window_s`` of each other, i.e. a second person slipped through on the first one's passage.

An entry is the first frame a person track is seen in the door zone. Someone who steps out of
the doorway right behind another person is often hidden by them until they are clear of it, and
a tracker may even hand the first person's id to the second; so a track that is born touching
a person in the zone (not mostly inside their box: that would be a piece of the same person)
counts as an entry too. A tracker that loses a
person for a moment and picks them up under a new id would make one person look like two, so a
new track that appears where a track of the zone vanished moments before (overlapping boxes,
within ``_REID_S``) carries on the old track's entry instead of adding one.

The violation runs from the first entry of the group to the last exit: it stays open while any
person of the group is still in the zone (``started_at`` is backdated to the first entry).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import supervision as sv

from vision.config import TailgatingRule as TailgatingConfig
from vision.events import RuleType, iso_ms
from vision.observations import Observation
from vision.rules.base import Tally, TemporalRule

_REID_S = 1.0  # a track lost this recently may come back under a new id
_REID_IOU = 0.3
_BEHIND_MAX_COVER = 0.5  # a box born mostly inside another is a piece of that person, not a second one

Box = tuple[float, float, float, float]


def _cover(a: Box, b: Box) -> float:
    """How much of ``a`` lies inside ``b`` (0..1)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1])
    return ix * iy / area if area > 0 else 0.0


def _iou(a: Box, b: Box) -> float:
    return float(sv.box_iou_batch(np.asarray([a], dtype=np.float64), np.asarray([b], dtype=np.float64))[0, 0])


@dataclass(frozen=True, slots=True)
class PassageSample:
    """The persons of one tailgating group, with when each entered."""

    entries: tuple[tuple[int, datetime], ...]


class _PassageTally(Tally[PassageSample]):
    def __init__(self, max_persons: int, window_s: float) -> None:
        self.max_persons = max_persons
        self.window_s = window_s
        self.entries: dict[int, datetime] = {}
        self.worst_at: datetime | None = None

    def add(self, sample: PassageSample, ts: datetime) -> bool:
        material = False
        for tid, at in sample.entries:
            if tid not in self.entries:
                self.entries[tid] = at
                self.worst_at = ts
                material = True
        return material

    def details(self) -> dict[str, Any]:
        ordered = sorted(self.entries.items(), key=lambda e: (e[1], e[0]))
        return {
            "persons": len(ordered),
            "max_persons": self.max_persons,
            "window_s": self.window_s,
            "entries": [{"track_id": tid, "at": iso_ms(at)} for tid, at in ordered],
        }

    def track_ids(self) -> list[int]:
        return sorted(self.entries)


class TailgatingRule(TemporalRule[TailgatingConfig, PassageSample]):
    """Distinct person tracks entering the door zone; a group of more than ``max_persons``
    entering within ``window_s`` is a violation while any of them is in the zone."""

    type = RuleType.tailgating
    config_type = TailgatingConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._entries: dict[int, datetime] = {}  # track -> when it entered the zone
        self._last_in: dict[int, tuple[datetime, Box]] = {}  # track -> last seen in the zone, where
        self._alias: dict[int, int] = {}  # new track id -> the vanished track it continues
        self._group: dict[int, datetime] = {}  # the persons of the current passage -> entry time
        self._seen: dict[int, datetime] = {}  # every track id -> when it was last seen anywhere

    def _person(self, tid: int) -> int:
        return self._alias.get(tid, tid)

    def sample(self, obs: Observation) -> PassageSample | None:
        ts = obs.ts
        window = timedelta(seconds=self.config.window_s)
        keep = timedelta(seconds=self.config.window_s + self.config.clear_s + _REID_S)
        seen_ids = {t.track_id for t in obs.tracks}
        inside = {t.track_id: t.xyxy for t in obs.tracks if t.track_id >= 0 and self.zone in t.zones}
        new_entry = self._walked_in(ts, seen_ids, inside)
        new_entry = self._born_behind(obs, inside) or new_entry
        for t in obs.tracks:
            if t.track_id >= 0:
                self._seen[t.track_id] = ts
        for tid, box in inside.items():
            self._last_in[self._person(tid)] = (ts, box)
        if new_entry:
            recent = {tid: at for tid, at in self._entries.items() if ts - at <= window}
            if len(recent) > self.config.max_persons:
                self._group.update(recent)
        self._forget(ts, keep, seen_ids)
        present = {self._person(tid) for tid in inside}
        if not present & self._group.keys():
            # the passage is over once none of its persons has been in the zone for clear_s
            clear = timedelta(seconds=self.config.clear_s)
            self._group = {t: at for t, at in self._group.items()
                           if t in self._last_in and ts - self._last_in[t][0] < clear}
            return None
        return PassageSample(tuple(sorted(self._group.items())))

    def _walked_in(self, ts: datetime, seen_ids: set[int], inside: dict[int, Box]) -> bool:
        """Tracks new in the zone enter, unless they continue one that just vanished there."""
        new_entry = False
        for tid, box in inside.items():
            if tid in self._alias or tid in self._entries:
                continue
            vanished = [
                (old, at_box[1]) for old, at_box in self._last_in.items()
                if old not in seen_ids and old not in inside
                and (ts - at_box[0]).total_seconds() <= _REID_S and _iou(at_box[1], box) >= _REID_IOU
            ]
            if vanished:
                self._alias[tid] = self._person(max(vanished, key=lambda v: _iou(v[1], box))[0])
                continue
            self._entries[tid] = ts
            new_entry = True
        return new_entry

    def _born_behind(self, obs: Observation, inside: dict[int, Box]) -> bool:
        """A track born from behind someone in the doorway is an entry too."""
        new_entry = False
        for t in obs.tracks:
            tid = t.track_id
            if tid < 0 or tid in inside or tid in self._seen or tid in self._entries:
                continue
            if any(0.0 < _cover(t.xyxy, box) < _BEHIND_MAX_COVER and _cover(box, t.xyxy) < _BEHIND_MAX_COVER
                   for box in inside.values()):
                self._entries[tid] = obs.ts
                new_entry = True
        return new_entry

    def _forget(self, ts: datetime, keep: timedelta, seen_ids: set[int]) -> None:
        """Forget what can no longer matter."""
        for tid in [t for t, (at, _) in self._last_in.items() if ts - at > keep]:
            self._last_in.pop(tid, None)
            self._group.pop(tid, None)
            if ts - self._entries.get(tid, ts) > keep:
                self._entries.pop(tid, None)
        self._seen = {tid: at for tid, at in self._seen.items() if ts - at <= keep}
        self._alias = {new: old for new, old in self._alias.items() if new in seen_ids or old in self._last_in}

    def episode_start(self, obs: Observation) -> datetime | None:
        return min(self._group.values()) if self._group else None

    def new_tally(self) -> _PassageTally:
        return _PassageTally(self.config.max_persons, self.config.window_s)
