"""Intrusion (110 防盗): any person in the zone, staff or not, typically after hours.

After closing the branch is armed; the camera stands in for the motion detector of the 110
alarm, so identity does not matter: a teller who came back for her keys is reviewed like anyone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vision.config import IntrusionRule as IntrusionConfig
from vision.events import RuleType
from vision.observations import Observation
from vision.rules.base import Tally, TemporalRule


class _PresenceTally(Tally[tuple[int, ...]]):
    """Everyone seen in the zone during the violation, and the most at once."""

    def __init__(self) -> None:
        self.tracks: set[int] = set()
        self.max_seen = 0
        self.worst_at: datetime | None = None

    def add(self, sample: tuple[int, ...], ts: datetime) -> bool:
        material = False
        if len(sample) > self.max_seen:
            self.max_seen, self.worst_at = len(sample), ts
            material = True
        known = [t for t in sample if t >= 0]
        if not self.tracks.issuperset(known):
            self.tracks.update(known)
            material = True
        return material

    def details(self) -> dict[str, Any]:
        return {"persons": self.max_seen}

    def track_ids(self) -> list[int]:
        return sorted(self.tracks)


class IntrusionRule(TemporalRule[IntrusionConfig, tuple[int, ...]]):
    """At least one person in the zone: staff, non-staff and not yet decided alike."""

    type = RuleType.intrusion
    config_type = IntrusionConfig

    def sample(self, obs: Observation) -> tuple[int, ...] | None:
        zone = self.zone_state(obs)
        if zone.persons <= 0:
            return None
        ids = (*zone.staff_track_ids, *zone.non_staff_track_ids, *zone.undecided_track_ids)
        return ids if ids else tuple(-1 for _ in range(zone.persons))

    def new_tally(self) -> _PresenceTally:
        return _PresenceTally()
