"""ORM tables. Times are stored as naive UTC so SQLite and PostgreSQL compare them the same way;
each violation keeps the UTC offset it arrived with so the record is returned as it was sent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive values are a programming error."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the database; attach a time zone first")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    site: Mapped[str | None] = mapped_column(String(128), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # bumped to revoke every token issued so far (password change, removal)
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)  # IANA name, from a config
    utc_offset_min: Mapped[int | None] = mapped_column(Integer, nullable=True)  # from the latest record
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Camera(Base):
    __tablename__ = "cameras"
    __table_args__ = (UniqueConstraint("site", "camera_id", name="uq_cameras_site_camera"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(128), ForeignKey("sites.id"), index=True)
    camera_id: Mapped[str] = mapped_column(String(128), index=True)
    zones: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    zones_version: Mapped[int] = mapped_column(Integer, default=0)
    zones_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    zones_updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    frame_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Violation(Base):
    __tablename__ = "violations"
    __table_args__ = (
        Index("ix_violations_site_started", "site", "started_at"),
        Index("ix_violations_local_date", "local_date", "site"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(128), ForeignKey("sites.id"))
    camera: Mapped[str] = mapped_column(String(128), index=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    zone: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    utc_offset_min: Mapped[int] = mapped_column(Integer)
    local_date: Mapped[date] = mapped_column(Date)
    local_hour: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    track_ids: Mapped[list[int]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    snapshot: Mapped[str | None] = mapped_column(String(512), nullable=True)
    clip: Mapped[str | None] = mapped_column(String(512), nullable=True)
    review_status: Mapped[str] = mapped_column(String(32), default="unreviewed", index=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class AuditEntry(Base):
    """Who did what: logins, evidence views and downloads, exports, reviews, zone and user changes."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_action_at", "action", "at"),
        Index("ix_audit_log_username_at", "username", "at"),
        Index("ix_audit_log_site_at", "site", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    site: Mapped[str | None] = mapped_column(String(128), nullable=True)
    camera: Mapped[str | None] = mapped_column(String(128), nullable=True)
    violation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class LoginAttempt(Base):
    """A fixed-window counter of login attempts per key (username+address, address, username),
    kept in the database so that every API replica on it shares the limit."""

    __tablename__ = "login_attempts"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer)


class CameraReport(Base):
    """What a pipeline last reported for a camera (``POST /metrics/pipeline``): live zone counts,
    the zones version it applied and the camera's status. In the database so that every API replica shows the same;
    keyed like a camera but not one (metrics alone do not register a camera)."""

    __tablename__ = "camera_reports"

    site: Mapped[str] = mapped_column(String(128), primary_key=True)
    camera: Mapped[str] = mapped_column(String(128), primary_key=True)
    zone_counts: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    zones_applied_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # up / reconnecting / down
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # the camera's clock minus the box's (seconds) as last reported; None: the stream does not say
    clock_drift_s: Mapped[float | None] = mapped_column(Float, nullable=True)
