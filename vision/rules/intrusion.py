"""Intrusion (110 防盗): any person in the zone, staff or not, typically after hours.

After closing the branch is armed; the camera stands in for the motion detector of the 110
alarm, so identity does not matter: a teller who came back for her keys is reviewed like anyone.
"""

from __future__ import annotations

from vision.config import IntrusionRule as IntrusionConfig
from vision.events import RuleType
from vision.observations import Observation
from vision.rules.base import TemporalRule, TrackSetTally


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

    def new_tally(self) -> TrackSetTally:
        return TrackSetTally("persons")
