"""Request and response bodies, split Create / Update / Public as the API evolves them separately."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator, model_validator

from api.evidence import POINTER_SUFFIXES, pointer_ok
from api.roles import Role
from api.strict import StrictInputError, check_text, check_value, json_safe
from vision.config import ID_PATTERN, ZoneConfig, duplicate_zone_names
from vision.events import Violation as ViolationRecord
from vision.events import iso_ms

ReviewStatus = Literal["unreviewed", "acknowledged", "true_positive", "false_positive"]
REVIEW_STATUSES: tuple[str, ...] = ("unreviewed", "acknowledged", "true_positive", "false_positive")
IngestResultKind = Literal["created", "updated", "unchanged", "stale"]
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
STAGE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
# site, camera, rule and zone become folder names, MQTT topic levels and CSV cells
SITE_CAMERA_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# strict input (docs/CONTRACT.md): times a record may carry, the size of its details
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_DETAILS_BYTES = 64 * 1024
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
MAX_DURATION_S = 366 * 86400.0


def _plain_text(value: str) -> str:
    try:
        check_text(value, "text")
    except StrictInputError as exc:
        raise ValueError(str(exc).removeprefix("text: ")) from None
    return value


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
        if v is not None and not (EARLIEST <= v < LATEST):
            raise ValueError("must lie between the years 2000 and 2100")
        return v

    @field_validator("duration_s")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v) or v < 0 or v > MAX_DURATION_S:
            raise ValueError(f"must be a finite number of seconds from 0 to {MAX_DURATION_S:.0f}")
        return v

    @field_validator("track_ids")
    @classmethod
    def _track_ids(cls, v: list[int]) -> list[int]:
        if len(v) > 10_000 or any(not (0 <= t < 2**53) for t in v):
            raise ValueError("at most 10000 track ids, each from 0 to 2**53")
        return v

    @field_validator("details")
    @classmethod
    def _details(cls, v: dict[str, Any]) -> dict[str, Any]:
        try:
            check_value(v, "details")
            size = len(json.dumps(v, ensure_ascii=False, allow_nan=False).encode("utf-8"))
        except (StrictInputError, ValueError, TypeError) as exc:
            raise ValueError(str(exc) if isinstance(exc, StrictInputError) else "details must be plain JSON") from None
        if size > MAX_DETAILS_BYTES:
            raise ValueError(f"details is {size} bytes as JSON; at most {MAX_DETAILS_BYTES}")
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
        pointers = {"snapshot": self.snapshot, "clip": self.clip, "clip_annotated": self.details.get("clip_annotated")}
        for kind, value in pointers.items():
            if value is None:
                continue
            if not isinstance(value, str) or not pointer_ok(value, kind, self.site, self.camera, self.id):
                suffix = POINTER_SUFFIXES[kind]
                raise ValueError(
                    f"{kind} must name this violation's own file: [evidence/]{self.camera}/{self.id}{suffix} "
                    f"(or {self.site}/{self.camera}/{self.id}{suffix})"
                )
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
        """Renders defensively: a row stored before strict input (NaN, a far-off time, text JSON
        cannot carry) still renders, with such values replaced, so one bad row cannot break a list."""
        try:
            tz: Any = timezone(timedelta(minutes=row.utc_offset_min))
        except (TypeError, ValueError, OverflowError):
            tz = UTC
        duration = row.duration_s if isinstance(row.duration_s, int | float) and math.isfinite(row.duration_s) else 0.0
        details = json_safe(row.details) if isinstance(row.details, dict) else {}
        return cls(
            id=row.id,
            site=row.site,
            camera=row.camera,
            rule=json_safe(row.rule),
            zone=json_safe(row.zone),
            severity=row.severity,
            state=row.state,
            started_at=_local(row.started_at, tz),
            ended_at=_local(row.ended_at, tz) if row.ended_at else None,
            duration_s=round(duration, 3),
            track_ids=[t for t in (row.track_ids or []) if isinstance(t, int)],
            details=details,
            snapshot=json_safe(row.snapshot),
            clip=json_safe(row.clip),
            review_status=row.review_status,
            review_note=json_safe(row.review_note),
            reviewed_by=row.reviewed_by,
            reviewed_at=row.reviewed_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            snapshot_url=f"{prefix}/violations/{row.id}/snapshot" if row.snapshot else None,
            clip_url=f"{prefix}/violations/{row.id}/clip" if row.clip else None,
        )


def _local(ts: datetime, tz: Any) -> datetime:
    try:
        return ts.astimezone(tz)
    except (OverflowError, ValueError):
        return ts


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


BULK_REVIEW_MAX = 500


class ViolationBulkUpdate(ViolationUpdate):
    """One review for many violations at once: all of them or none."""

    ids: list[Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]] = Field(
        min_length=1, max_length=BULK_REVIEW_MAX, description=f"1 to {BULK_REVIEW_MAX} violation ids"
    )


class BulkReviewResult(BaseModel):
    updated: int
    items: list[ViolationPublic]


class SummaryRow(BaseModel):
    site: str
    camera: str
    rule: str
    count: int = Field(description="violations that are not false positives")
    total_duration_s: float = Field(description="of the violations in count")
    longest_duration_s: float = Field(description="of the violations in count")
    open: int = Field(description="of the violations in count, those still open")
    reviewed: int = Field(description="of the violations in count, those reviewed")
    false_positive: int = Field(description="violations reviewed as false positives, apart from count")
    hourly: list[int] = Field(
        description="count by start hour 0..23 in the site's local time (false positives left out)"
    )


class RuleSummary(BaseModel):
    rule: str
    count: int = Field(description="violations that are not false positives")
    false_positives: int
    reviewed: int = Field(description="reviewed violations of this rule, false positives included")
    median_review_s: float | None = Field(
        description="median seconds from the alert reaching the API to its review; null if none reviewed"
    )


class DaySummary(BaseModel):
    date: date
    count: int = Field(description="violations that are not false positives")
    false_positives: int


LocalDate = date  # a field named ``date`` hides the type inside the class body


class DailySummary(BaseModel):
    date: LocalDate = Field(description="the day asked for, or the latest day with violations when none was")
    site: str | None
    period: Literal["day", "week", "month"] = "day"
    start: LocalDate = Field(description="first day of the period (Monday of the ISO week, 1st of the month)")
    end: LocalDate = Field(description="last day of the period, inclusive")
    rows: list[SummaryRow]
    total: int = Field(description="violations in the period that are not false positives")
    false_positives: int = Field(description="violations in the period reviewed as false positives")
    by_rule: list[RuleSummary]
    days: list[DaySummary] = Field(description="one entry per day of the period")


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)

    @field_validator("username", "password")
    @classmethod
    def _text(cls, v: str) -> str:
        return _plain_text(v)


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

    @field_validator("password")
    @classmethod
    def _text(cls, v: str) -> str:
        return _plain_text(v)
    site: str | None = Field(None, pattern=ID_PATTERN)


class ZonesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zones: list[ZoneConfig] = Field(max_length=64)

    @model_validator(mode="after")
    def _unique(self) -> ZonesUpdate:
        dup = duplicate_zone_names(self.zones)
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
    last_seen: datetime | None
    status: Literal["up", "down", "reconnecting"] | None = Field(
        None, description="as the pipeline last reported it (POST /metrics/pipeline); None: no report since start"
    )
    status_at: datetime | None = Field(None, description="when that report arrived")
    clock_drift_s: float | None = Field(
        None, description="the camera's clock minus the box's in seconds (RTSP sender reports); None: unknown"
    )
    clock_drift_alarm: bool = Field(False, description="|clock_drift_s| over 60 s (the inspection limit)")

    @field_serializer("frame_at", "last_seen", "status_at")
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
        None, ge=0, le=2**31 - 1,  # the column is a database INTEGER (32 bits in PostgreSQL)
        description="the zones version (from GET /cameras/{id}/zones) this pipeline runs"
    )
    clock_drift_s: float | None = Field(
        None, ge=-1e9, le=1e9,
        description="the camera's own clock (RTSP sender reports) minus the box's, seconds; absent where unknown",
    )
    outbox_pending: int | None = Field(
        None, ge=0, le=100_000_000, description="violation states the box's outbox has not delivered yet"
    )
    outbox_dead: int | None = Field(
        None, ge=0, le=100_000_000, description="states the API refused for good, kept in the box's dead letter"
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
