"""Dual-teller presence (双人临柜): at least ``min_staff`` staff at the counter while it is open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vision.config import DualTellerRule as DualTellerConfig
from vision.events import RuleType
from vision.observations import Observation
from vision.rules.base import Tally, TemporalRule


@dataclass(frozen=True, slots=True)
class StaffSample:
    staff: int
    track_ids: tuple[int, ...]


class _StaffTally(Tally[StaffSample]):
    """The fewest staff seen is what a reviewer needs: 'one teller alone' and 'counter empty'
    are different severities of the same breach."""

    def __init__(self, min_staff: int) -> None:
        self.min_staff = min_staff
        self.min_seen: int | None = None
        self.tracks: set[int] = set()
        self.worst_at: datetime | None = None

    def add(self, sample: StaffSample, ts: datetime) -> bool:
        material = False
        if self.min_seen is None or sample.staff < self.min_seen:
            self.min_seen, self.worst_at = sample.staff, ts
            material = True
        if not self.tracks.issuperset(sample.track_ids):
            self.tracks.update(sample.track_ids)
            material = True
        return material

    def details(self) -> dict[str, Any]:
        seen = self.min_seen if self.min_seen is not None else 0
        return {"min_staff_seen": seen, "min_staff": self.min_staff}

    def track_ids(self) -> list[int]:
        return sorted(self.tracks)


class DualTellerRule(TemporalRule[DualTellerConfig, StaffSample]):
    """Fewer than ``min_staff`` staff in the zone; ``track_ids`` are the staff who were there."""

    type = RuleType.dual_teller
    config_type = DualTellerConfig
    waits_for_warmup = True

    def sample(self, obs: Observation) -> StaffSample | None:
        zone = self.zone_state(obs)
        if zone.staff >= self.config.min_staff:
            return None
        return StaffSample(zone.staff, zone.staff_track_ids)

    def clarity(self, obs: Observation, sample: StaffSample) -> tuple[float, ...]:
        """Fewest staff first, then fewest others in the zone: the empty seat in plain view."""
        zone = self.zone_state(obs)
        return (-float(sample.staff), -float(zone.persons - zone.staff))

    def new_tally(self) -> _StaffTally:
        return _StaffTally(self.config.min_staff)
