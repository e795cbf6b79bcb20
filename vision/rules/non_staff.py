"""No non-staff in the teller area (营业期间非营业人员禁止进入营业间内)."""

from __future__ import annotations

from vision.config import NonStaffRule as NonStaffConfig
from vision.events import RuleType
from vision.observations import Observation
from vision.rules.base import TemporalRule, TrackSetTally


class NonStaffRule(TemporalRule[NonStaffConfig, tuple[int, ...]]):
    """At least one person judged non-staff inside the zone.

    Tracks whose identity is still undecided do not count: the staff stage decides within a few
    frames, and counting them would flag every teller walking in through the staff door.
    """

    type = RuleType.non_staff_in_area
    config_type = NonStaffConfig

    def sample(self, obs: Observation) -> tuple[int, ...] | None:
        ids = self.zone_state(obs).non_staff_track_ids
        return ids if ids else None

    def clarity(self, obs: Observation, sample: tuple[int, ...]) -> tuple[float, ...]:
        """The intruder at their largest inside the zone (closest to the camera, most visible)."""
        ids = set(sample)
        areas = [max(0.0, t.xyxy[2] - t.xyxy[0]) * max(0.0, t.xyxy[3] - t.xyxy[1])
                 for t in obs.tracks if t.track_id in ids]
        return (max(areas, default=0.0),)

    def new_tally(self) -> TrackSetTally:
        return TrackSetTally("max_non_staff")
