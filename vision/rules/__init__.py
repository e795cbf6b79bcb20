"""The rules of the branch security regulation, one module each, and the engine that runs
a camera's configured rules over its observations.

Where is what: ``schedule`` (business hours), ``base`` (grace, hysteresis, closing time),
``dual_teller``, ``unattended_items``, ``non_staff``, ``tailgating``, ``cash_escort``, ``intrusion``,
``camera_tamper``.
"""

from __future__ import annotations

from datetime import datetime

from vision.config import CameraConfig, RuleBase, SiteConfig
from vision.events import RuleType, ViolationChange
from vision.observations import Observation
from vision.rules.base import Phase, Rule, RuleStatus, Tally, TemporalRule
from vision.rules.camera_offline import CameraOfflineRule
from vision.rules.camera_tamper import CameraTamperRule
from vision.rules.cash_escort import CashEscortRule
from vision.rules.dual_teller import DualTellerRule
from vision.rules.intrusion import IntrusionRule
from vision.rules.non_staff import NonStaffRule
from vision.rules.schedule import Schedule
from vision.rules.tailgating import TailgatingRule
from vision.rules.unattended_items import UnattendedItemsRule

REGISTRY: dict[str, type[TemporalRule] | type[CameraTamperRule]] = {
    RuleType.dual_teller.value: DualTellerRule,
    RuleType.unattended_items.value: UnattendedItemsRule,
    RuleType.non_staff_in_area.value: NonStaffRule,
    RuleType.tailgating.value: TailgatingRule,
    RuleType.cash_escort.value: CashEscortRule,
    RuleType.intrusion.value: IntrusionRule,
    RuleType.camera_tamper.value: CameraTamperRule,
}
# not stepped by observations (an offline camera makes none): the runner drives these
STREAM_RULES: dict[str, type[CameraOfflineRule]] = {RuleType.camera_offline.value: CameraOfflineRule}


def build_rule(config: RuleBase, *, site_id: str, camera_id: str, schedule: Schedule) -> Rule:
    rule_type = getattr(config, "type", None)
    cls = REGISTRY.get(str(rule_type))
    if str(rule_type) in STREAM_RULES:
        raise ValueError(f"{rule_type} is driven by the runner (frames and a watchdog), not by observations")
    if cls is None:
        raise ValueError(f"unknown rule type {rule_type!r}; known: {', '.join(sorted(REGISTRY))}")
    return cls(config, site_id=site_id, camera_id=camera_id, schedule=schedule)


def build_rules(site: SiteConfig, camera: CameraConfig, *, schedule: Schedule | None = None) -> list[Rule]:
    """One rule object per configured rule, in config order, sharing the site's schedule."""
    sched = schedule if schedule is not None else Schedule(site)
    return [build_rule(cfg, site_id=site.id, camera_id=camera.id, schedule=sched) for cfg in camera.rules
            if cfg.type not in STREAM_RULES]


class RuleEngine:
    """All rules of one camera, stepped together so the pipeline has one call per frame."""

    def __init__(self, site: SiteConfig, camera: CameraConfig) -> None:
        self.site = site
        self.camera = camera
        self.schedule = Schedule(site)
        self.rules: list[Rule] = build_rules(site, camera, schedule=self.schedule)

    def step(self, obs: Observation) -> list[ViolationChange]:
        if obs.camera_id != self.camera.id:
            raise ValueError(
                f"observation of camera {obs.camera_id!r} given to the rule engine of {self.camera.id!r}"
            )
        changes: list[ViolationChange] = []
        for rule in self.rules:
            changes.extend(rule.step(obs))
        return changes

    def active_summary(self) -> list[RuleStatus]:
        """Rules whose condition holds as of the last frame (grace running or violation open)."""
        return [st for rule in self.rules if (st := rule.status()) is not None]

    def close(self, last_ts: datetime) -> list[ViolationChange]:
        """End of a file: every open violation ends at ``last_ts``; the engine can run again."""
        changes: list[ViolationChange] = []
        for rule in self.rules:
            changes.extend(rule.close(last_ts))
        return changes


__all__ = [
    "REGISTRY",
    "CameraOfflineRule",
    "CameraTamperRule",
    "CashEscortRule",
    "DualTellerRule",
    "IntrusionRule",
    "NonStaffRule",
    "Phase",
    "Rule",
    "RuleEngine",
    "RuleStatus",
    "STREAM_RULES",
    "Schedule",
    "TailgatingRule",
    "Tally",
    "TemporalRule",
    "UnattendedItemsRule",
    "build_rule",
    "build_rules",
]
