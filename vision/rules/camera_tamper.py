"""Camera tampering: the lens covered, the view moved, the picture defocused.

The pipeline reads every analysed frame (``vision.tamper.TamperWatch``) and puts the kind in
``Observation.tamper``. Each kind is its own condition with its own grace and clearing, so a
lens that is uncovered onto a view knocked aside gives two violations (``covered`` ending,
``moved`` starting) with ``details.kind`` telling them apart. Records carry ``zone: "camera"``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vision.config import CameraTamperRule as CameraTamperConfig
from vision.config import RuleBase
from vision.events import RuleType, ViolationChange
from vision.observations import Observation
from vision.rules.base import Phase, RuleStatus, Tally, TemporalRule
from vision.rules.schedule import Schedule

TAMPER_KINDS = ("covered", "moved", "defocused")


class _TamperTally(Tally[dict[str, Any]]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.first: dict[str, Any] = {}
        self.worst_at: datetime | None = None

    def add(self, sample: dict[str, Any], ts: datetime) -> bool:
        if not self.first:
            self.first, self.worst_at = sample, ts
            return True
        return False

    def details(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.first}


class _TamperKind(TemporalRule[CameraTamperConfig, dict[str, Any]]):
    type = RuleType.camera_tamper
    config_type = CameraTamperConfig
    watches_view = True

    def __init__(self, config: CameraTamperConfig, kind: str, *, site_id: str, camera_id: str,
                 schedule: Schedule) -> None:
        self.kind = kind
        super().__init__(config, site_id=site_id, camera_id=camera_id, schedule=schedule)

    def sample(self, obs: Observation) -> dict[str, Any] | None:
        if obs.tamper != self.kind:
            return None
        return dict(obs.tamper_details or {})

    def new_tally(self) -> _TamperTally:
        return _TamperTally(self.kind)


class CameraTamperRule:
    """One temporal condition per kind of tampering, driven together."""

    type = RuleType.camera_tamper
    config_type = CameraTamperConfig

    def __init__(self, config: RuleBase, *, site_id: str, camera_id: str, schedule: Schedule) -> None:
        if not isinstance(config, CameraTamperConfig):
            raise ValueError(f"CameraTamperRule needs a CameraTamperConfig config, got {type(config).__name__}")
        self.config: CameraTamperConfig = config
        self.zone = config.zone
        self.kinds = [
            _TamperKind(config, kind, site_id=site_id, camera_id=camera_id, schedule=schedule)
            for kind in TAMPER_KINDS
        ]

    @property
    def phase(self) -> Phase:
        phases = [k.phase for k in self.kinds]
        for p in (Phase.active, Phase.pending):
            if p in phases:
                return p
        return Phase.idle

    def step(self, obs: Observation) -> list[ViolationChange]:
        changes: list[ViolationChange] = []
        for k in self.kinds:  # covered ends before moved starts when both change on one frame
            changes.extend(k.step(obs))
        return changes

    def close(self, last_ts: datetime) -> list[ViolationChange]:
        changes: list[ViolationChange] = []
        for k in self.kinds:
            changes.extend(k.close(last_ts))
        return changes

    def status(self) -> RuleStatus | None:
        found = [st for k in self.kinds if (st := k.status()) is not None]
        found.sort(key=lambda st: (st.phase is not Phase.active, -st.elapsed_s))
        return found[0] if found else None
