"""The violation record (DESIGN.md "Violation record") and the changes rules emit."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RuleType(enum.StrEnum):
    """Rule names as records, configs and the API carry them (``str(RuleType.x)`` is the name)."""

    dual_teller = "dual_teller"
    unattended_items = "unattended_items"
    non_staff_in_area = "non_staff_in_area"
    tailgating = "tailgating"
    cash_escort = "cash_escort"
    intrusion = "intrusion"
    camera_tamper = "camera_tamper"
    camera_offline = "camera_offline"


class ViolationState(str, enum.Enum):
    open = "open"
    ended = "ended"


class Severity(str, enum.Enum):
    low = "low"
    medium = "medium"
    high = "high"


def new_violation_id() -> str:
    return uuid.uuid4().hex


def iso_ms(ts: datetime) -> str:
    """ISO 8601 with milliseconds and the offset, as in the contract's examples."""
    return ts.isoformat(timespec="milliseconds")


class Violation(BaseModel):
    """A violation as it travels to the JSONL file, the API and MQTT.

    ``started_at`` is when the condition began (not when the grace ran out); ``ended_at`` is
    when it cleared, ``None`` while it is still open.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    site: str = Field(min_length=1, max_length=128)
    camera: str = Field(min_length=1, max_length=128)
    rule: str = Field(min_length=1, max_length=64)
    zone: str = Field(min_length=1, max_length=128)
    severity: Severity = Severity.high
    state: ViolationState
    started_at: datetime
    ended_at: datetime | None = None
    duration_s: float = Field(ge=0)
    track_ids: list[int] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    snapshot: str | None = None
    clip: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["started_at"] = iso_ms(self.started_at)
        data["ended_at"] = iso_ms(self.ended_at) if self.ended_at else None
        data["duration_s"] = round(self.duration_s, 3)
        return data


class ChangeKind(str, enum.Enum):
    started = "started"
    updated = "updated"
    ended = "ended"


class ViolationChange(BaseModel):
    """What a rule's ``step`` returns: a violation began, changed, or ended."""

    kind: ChangeKind
    violation: Violation
    worst_at: datetime | None = None  # the moment the condition was worst: the snapshot frame
