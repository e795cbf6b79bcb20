"""No unattended cash or valuables on the counter (大额现金不得放在柜面上; 临时离柜…入箱加锁).

The rule only reasons over what the counter item watcher reports (``ZoneState.items``); finding
items, their size and stillness (``min_area``, ``still_s``) is the watcher's job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vision.config import UnattendedItemsRule as UnattendedItemsConfig
from vision.events import RuleType, iso_ms
from vision.observations import ItemObs, Observation
from vision.rules.base import Tally, TemporalRule


class _ItemTally(Tally[tuple[ItemObs, ...]]):
    """Every item that lay on the unattended counter, with where it was last seen.

    Items are keyed by the watcher's ``item_id`` so that a seal and a stack of cash on the
    counter at different moments both appear in the record.
    """

    def __init__(self) -> None:
        self.items: dict[int, ItemObs] = {}
        self.max_items = 0
        self.worst_at: datetime | None = None

    def add(self, sample: tuple[ItemObs, ...], ts: datetime) -> bool:
        material = False
        if len(sample) > self.max_items:
            self.max_items, self.worst_at = len(sample), ts
            material = True
        for item in sample:
            if item.item_id not in self.items:
                material = True
            self.items[item.item_id] = item
        return material

    def details(self) -> dict[str, Any]:
        return {
            "items": [
                {
                    "item_id": item.item_id,
                    "label": item.label,
                    "box": [round(float(v), 4) for v in item.xyxy],
                    "first_seen": iso_ms(item.first_seen),
                }
                for item in sorted(self.items.values(), key=lambda i: (i.first_seen, i.item_id))
            ],
            "max_items": self.max_items,
        }


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class UnattendedItemsRule(TemporalRule[UnattendedItemsConfig, tuple[ItemObs, ...]]):
    """Items on the counter zone while its ``attended_by`` zone has no staff (or at all, where
    ``attended_by`` is null: 大额现金不得放在柜面上 holds even with the teller sitting there).

    A customer standing at the counter does not attend it: only staff may guard the cash.
    """

    type = RuleType.unattended_items
    config_type = UnattendedItemsConfig
    waits_for_warmup = True

    def sample(self, obs: Observation) -> tuple[ItemObs, ...] | None:
        items = self.zone_state(obs).items
        if not items:
            return None
        # attended_by null: nothing may lie on this counter longer than grace_s, attended or not
        if self.config.attended_by is not None and self.zone_state(obs, self.config.attended_by).staff > 0:
            return None
        return items

    def clarity(self, obs: Observation, sample: tuple[ItemObs, ...]) -> tuple[float, ...]:
        """Items in full view first (no person box over them), then nobody at the seat, then
        the most items and the most counter area they cover."""
        people = [t.xyxy for t in obs.tracks]
        visible = sum(1 for item in sample if not any(_overlaps(item.xyxy, box) for box in people))
        seat = self.zone_state(obs, self.config.attended_by).persons if self.config.attended_by else 0
        area = sum(max(0.0, i.xyxy[2] - i.xyxy[0]) * max(0.0, i.xyxy[3] - i.xyxy[1]) for i in sample)
        return (float(visible), -float(seat), float(len(sample)), area)

    def new_tally(self) -> _ItemTally:
        return _ItemTally()
