"""Request and response bodies, split Create / Update / Public as the API evolves them separately."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator, model_validator

from vision.config import ID_PATTERN, ZoneConfig
from vision.events import Violation as ViolationRecord
from vision.events import iso_ms

ROLES = ("operator", "branch_head", "engineer", "admin")
Role = Literal["operator", "branch_head", "engineer", "admin"]
ReviewStatus = Literal["unreviewed", "acknowledged", "true_positive", "false_positive"]
REVIEW_STATUSES: tuple[str, ...] = ("unreviewed", "acknowledged", "true_positive", "false_positive")
IngestResultKind = Literal["created", "updated", "unchanged", "stale"]
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
STAGE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
# site, camera, rule and zone become folder names, MQTT topic levels and CSV cells
SITE_CAMERA_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _safe_relative(value: str | None, field: str) -> str | None:
    """Evidence paths are relative to the evidence folder and may not climb out of it."""
    if value is None:
        return None
    if not value or "\x00" in value or "\\" in value or len(value) > 512:
        raise ValueError(f"{field} must be a relative path inside the evidence folder")
    p = PurePosixPath(value)
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise ValueError(f"{field} must be a relative path inside the evidence folder, without '..'")
    return value


class ViolationIn(ViolationRecord):
    """The violation record as ``POST /events`` accepts it: the contract, plus the checks that keep
    ids usable as folder names and MQTT topic levels and times unambiguous."""

    @field_validator("site", "camera", "rule", "zone")
    @classmethod
    def _id_like(cls, v: str) -> str:
        if not SITE_CAMERA_RE.match(v):
            raise ValueError("must start with a letter or digit and use only letters, digits, '_', '.', '-'")
        return v

    @field_validator("started_at", "ended_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and (v.tzinfo is None or v.utcoffset() is None):
            raise ValueError("must include a UTC offset, e.g. 2026-11-26T09:00:07.400+08:00")
        return v

    @field_validator("snapshot")
    @classmethod
    def _snapshot_path(cls, v: str | None) -> str | None:
        return _safe_relative(v, "snapshot")

    @field_validator("clip")
    @classmethod
    def _clip_path(cls, v: str | None) -> str | None:
        return _safe_relative(v, "clip")

    @model_validator(mode="after")
    def _consistent(self) -> ViolationIn:
        if self.state.value == "ended" and self.ended_at is None:
            raise ValueError("ended_at is required when state is 'ended'")
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


class IngestResult(BaseModel):
    id: str
    result: IngestResultKind
    state: str


class ViolationPublic(BaseModel):
    """The violation record, as sent by the pipeline, plus its review and download links."""

    id: str
    site: str
    camera: str
    rule: str
    zone: str
    severity: str
    state: str
    started_at: datetime
    ended_at: datetime | None
    duration_s: float
    track_ids: list[int]
    details: dict[str, Any]
    snapshot: str | None
    clip: str | None
    review_status: ReviewStatus
    review_note: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    snapshot_url: str | None
    clip_url: str | None

    @field_serializer("started_at", "ended_at", "reviewed_at", "created_at", "updated_at")
    def _iso(self, v: datetime | None) -> str | None:
        return iso_ms(v) if v is not None else None

    @classmethod
    def from_row(cls, row: Any, prefix: str = "/api/v1") -> ViolationPublic:
        tz = timezone(timedelta(minutes=row.utc_offset_min))
        return cls(
            id=row.id,
            site=row.site,
            camera=row.camera,
            rule=row.rule,
            zone=row.zone,
            severity=row.severity,
            state=row.state,
            started_at=row.started_at.astimezone(tz),
            ended_at=row.ended_at.astimezone(tz) if row.ended_at else None,
            duration_s=round(row.duration_s, 3),
            track_ids=list(row.track_ids or []),
            details=dict(row.details or {}),
            snapshot=row.snapshot,
            clip=row.clip,
            review_status=row.review_status,
            review_note=row.review_note,
            reviewed_by=row.reviewed_by,
            reviewed_at=row.reviewed_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            snapshot_url=f"{prefix}/violations/{row.id}/snapshot" if row.snapshot else None,
            clip_url=f"{prefix}/violations/{row.id}/clip" if row.clip else None,
        )


class ViolationList(BaseModel):
    items: list[ViolationPublic]
    total: int
    limit: int
    offset: int


class ViolationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    review_status: Literal["acknowledged", "true_positive", "false_positive"] | None = None
    note: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _something(self) -> ViolationUpdate:
        if self.review_status is None and self.note is None:
            raise ValueError("give review_status, note, or both")
        return self


class SummaryRow(BaseModel):
    site: str
    camera: str
    rule: str
    count: int
    total_duration_s: float
    longest_duration_s: float
    open: int
    reviewed: int
    false_positive: int
    hourly: list[int] = Field(description="violations by start hour 0..23, in the site's local time")


class DailySummary(BaseModel):
    date: date
    site: str | None
    rows: list[SummaryRow]
    total: int


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserPublic(BaseModel):
    username: str
    role: Role
    site: str | None
    active: bool = True


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserPublic


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=8, max_length=1024)
    role: Role
    site: str | None = Field(None, pattern=ID_PATTERN)


class ZonesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zones: list[ZoneConfig] = Field(max_length=64)

    @model_validator(mode="after")
    def _unique(self) -> ZonesUpdate:
        names = [z.name for z in self.zones]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"zone names must be unique; repeated: {', '.join(dup)}")
        return self


class ZoneCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    persons: int = Field(0, ge=0, le=10_000)
    staff: int = Field(0, ge=0, le=10_000)
    items: int = Field(0, ge=0, le=10_000)


class ZonesPublic(BaseModel):
    site: str
    camera: str
    zones: list[dict[str, Any]]
    version: int
    updated_at: datetime | None
    updated_by: str | None
    live: dict[str, ZoneCounts] = Field(
        default_factory=dict, description="latest per-zone counts a pipeline reported"
    )
    applied_version: int | None = Field(
        None, description="the zones version the camera's pipeline last reported running"
    )
    live_at: datetime | None = Field(None, description="when the live counts were reported")
    frame_at: datetime | None = Field(
        None, description="when the latest frame (GET /cameras/{id}/snapshot) was uploaded; null: none yet"
    )

    @field_serializer("updated_at", "live_at", "frame_at")
    def _iso(self, v: datetime | None) -> str | None:
        return iso_ms(v) if v is not None else None


class CameraPublic(BaseModel):
    site: str
    camera: str
    zones_version: int
    has_frame: bool
    frame_at: datetime | None
    last_seen: datetime

    @field_serializer("frame_at", "last_seen")
    def _iso(self, v: datetime | None) -> str | None:
        return iso_ms(v) if v is not None else None


class PipelineMetricsIn(BaseModel):
    """What a pipeline reports every few seconds for one camera; latencies are raw samples so the
    API's histograms aggregate across reports without the pipeline knowing the buckets."""

    model_config = ConfigDict(extra="forbid")

    site: str = Field(pattern=ID_PATTERN)
    camera: str = Field(pattern=ID_PATTERN)
    interval_s: float = Field(gt=0, le=3600, description="seconds this report covers")
    frames: int = Field(0, ge=0, le=10_000_000, description="frames read in the interval")
    analysed: int = Field(0, ge=0, le=10_000_000, description="frames analysed in the interval")
    dropped: int = Field(0, ge=0, le=10_000_000, description="frames dropped by bounded queues")
    fps: float | None = Field(None, ge=0, le=1000, description="analysed frames per second")
    status: Literal["up", "down", "reconnecting"] = "up"
    stages: dict[str, list[float]] = Field(
        default_factory=dict, description="stage name -> latency samples in seconds (at most 1000 each)"
    )
    zones: dict[str, ZoneCounts] = Field(default_factory=dict, description="zone name -> current counts")
    zones_version: int | None = Field(
        None, ge=0, description="the zones version (from GET /cameras/{id}/zones) this pipeline runs"
    )

    @field_validator("stages")
    @classmethod
    def _stages(cls, v: dict[str, list[float]]) -> dict[str, list[float]]:
        if len(v) > 32:
            raise ValueError("at most 32 stages")
        for name, samples in v.items():
            if not re.match(STAGE_PATTERN, name):
                raise ValueError(f"stage name {name!r} must match {STAGE_PATTERN}")
            if len(samples) > 1000:
                raise ValueError(f"stage {name!r}: at most 1000 samples per report")
            if any(not (0 <= s < 3600) for s in samples):
                raise ValueError(f"stage {name!r}: samples are seconds in [0, 3600)")
        return v

    @field_validator("zones")
    @classmethod
    def _zones(cls, v: dict[str, ZoneCounts]) -> dict[str, ZoneCounts]:
        if len(v) > 64:
            raise ValueError("at most 64 zones")
        for name in v:
            if not re.match(ID_PATTERN, name):
                raise ValueError(f"zone name {name!r} must match {ID_PATTERN}")
        return v


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    version: str
