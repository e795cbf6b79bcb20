"""Storing a violation record: idempotent on its id, monotonic in its state, all or nothing.

A pipeline's outbox may send the same state twice (it crashed between sending and forgetting) or
an older state after a newer one (retries race). The stored row therefore only moves forward:
``open`` before ``ended``, and within a state a longer duration is newer. Anything else is
acknowledged (so the outbox can forget it) but changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import HTTPException, status
from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.evidence import HASH_KEYS, SHA256_HEX, StagedFile, looks_like, stage_upload
from api.models import Camera, Site, Violation, utcnow
from api.schemas import ViolationIn, ViolationPublic
from api.settings import Settings

IDENTITY = ("site", "camera", "rule", "zone")


@dataclass
class IngestOutcome:
    result: str  # created | updated | unchanged | stale
    violation: ViolationPublic


class EvidenceInvalid(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def insert_ignore(session: Session, table: Table, values: dict[str, Any], keys: list[str]) -> bool:
    """INSERT that quietly does nothing when the key exists; True when a row was inserted.

    Used so that two requests racing to create the same site, camera or violation both succeed.
    """
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        stmt: Any
        if dialect == "postgresql":
            stmt = pg_insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
        else:
            stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
        # RETURNING rather than rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING
        return session.execute(stmt.returning(table.c[keys[0]])).first() is not None
    try:
        with session.begin_nested():
            session.execute(table.insert().values(**values))
        return True
    except IntegrityError:
        return False


def _offset_min(ts: datetime) -> int:
    off = ts.utcoffset()
    return int(off.total_seconds() // 60) if off is not None else 0


def _site_zone(site: Site | None) -> ZoneInfo | None:
    if site is None or not site.timezone:
        return None
    try:
        return ZoneInfo(site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def ensure_site(
    session: Session, site_id: str, offset_min: int | None = None, timezone: str | None = None
) -> Site:
    now = utcnow()
    insert_ignore(
        session,
        cast(Table, Site.__table__),
        {"id": site_id, "utc_offset_min": offset_min, "timezone": timezone, "updated_at": now},
        ["id"],
    )
    site = session.get(Site, site_id)
    if site is None:  # pragma: no cover - inserted or existing just above
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, "site row vanished")
    if offset_min is not None and site.utc_offset_min != offset_min:
        site.utc_offset_min = offset_min
        site.updated_at = now
    if timezone is not None and site.timezone != timezone:
        site.timezone = timezone
        site.updated_at = now
    return site


def ensure_camera(session: Session, site_id: str, camera_id: str) -> Camera:
    now = utcnow()
    insert_ignore(
        session,
        cast(Table, Camera.__table__),
        {"site": site_id, "camera_id": camera_id, "zones_version": 0, "last_seen": now},
        ["site", "camera_id"],
    )
    session.execute(
        update(Camera).where(Camera.site == site_id, Camera.camera_id == camera_id).values(last_seen=now)
    )
    cam = session.scalars(select(Camera).where(Camera.site == site_id, Camera.camera_id == camera_id)).one()
    return cam


def _rank(state: str, duration_s: float) -> tuple[int, float]:
    return (1 if state == "ended" else 0, round(duration_s, 3))


def _values(rec: ViolationIn, tz: ZoneInfo | None) -> dict[str, Any]:
    local = rec.started_at.astimezone(tz) if tz is not None else rec.started_at
    return {
        "severity": rec.severity.value,
        "state": rec.state.value,
        "started_at": rec.started_at,
        "ended_at": rec.ended_at,
        "utc_offset_min": _offset_min(rec.started_at),
        "local_date": local.date(),
        "local_hour": local.hour,
        "duration_s": rec.duration_s,
        "track_ids": list(rec.track_ids),
        "details": dict(rec.details),
    }


def _same(row: Violation, values: dict[str, Any]) -> bool:
    for key, value in values.items():
        current = getattr(row, key)
        if key == "duration_s":
            if not math.isclose(current, value, abs_tol=5e-4):
                return False
        elif current != value:
            return False
    return True


def check_hashes(details: dict[str, Any], staged: dict[str, StagedFile]) -> None:
    """Each ``details.*_sha256`` is a hex SHA-256, and each uploaded file matches its own: a file
    changed between the pipeline finishing it and the API receiving it is refused, not stored."""
    for key in HASH_KEYS.values():
        value = details.get(key)
        if value is not None and not (isinstance(value, str) and SHA256_HEX.match(value)):
            raise EvidenceInvalid("details", f"details.{key} must be 64 lowercase hex digits (a SHA-256)")
    for kind, s in staged.items():
        expected = details.get(HASH_KEYS[kind])
        if expected is not None and s.sha256 != expected:
            raise EvidenceInvalid(
                kind, f"{kind} upload does not match details.{HASH_KEYS[kind]}: its SHA-256 is {s.sha256}"
            )


def check_uploads(uploads: dict[str, IO[bytes]]) -> None:
    for kind, f in uploads.items():
        head = f.read(16)
        f.seek(0)
        if not looks_like(kind, head):
            what = "a JPEG image" if kind == "snapshot" else "an MP4 video"
            raise EvidenceInvalid(kind, f"{kind} upload is not {what}")


def _chunks(f: IO[bytes]) -> Any:
    while chunk := f.read(256 * 1024):
        yield chunk


def ingest(
    session: Session,
    settings: Settings,
    rec: ViolationIn,
    uploads: dict[str, IO[bytes]],
    writer_site: str | None = None,
) -> IngestOutcome:
    """``writer_site``: the site the caller's API key is bound to (``None``: a bare key)."""
    check_uploads(uploads)
    staged: dict[str, StagedFile] = {}
    committed: list[StagedFile] = []
    try:
        for kind, f in uploads.items():
            staged[kind] = stage_upload(settings.evidence_path, rec.camera, rec.id, kind, _chunks(f))
        check_hashes(rec.details or {}, staged)
        outcome = _store(session, rec, staged, writer_site)
        for s in staged.values():
            if outcome.used.get(s.relative):
                s.commit()
                committed.append(s)
        session.commit()
    except BaseException:
        session.rollback()
        for s in committed:
            s.undo()
        raise
    finally:
        for s in staged.values():
            s.discard()
    return IngestOutcome(outcome.result, ViolationPublic.from_row(outcome.row))


@dataclass
class _Stored:
    result: str
    row: Violation
    used: dict[str, bool]


def _check_rewrite(row: Violation, rec: ViolationIn, writer_site: str | None) -> None:
    """A stored violation may be rewritten only by its own site, and only as the same violation."""
    if writer_site is not None and row.site != writer_site:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"violation {rec.id} belongs to another site; this API key may not rewrite it"
        )
    clash = [k for k in IDENTITY if getattr(row, k) != getattr(rec, k)]
    if clash:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"violation {rec.id} exists with a different {', '.join(clash)}; ids are unique per violation",
        )


def _merge_evidence(
    row: Violation, rec: ViolationIn, evidence: dict[str, str | None], staged: dict[str, StagedFile],
    newer: bool, used: dict[str, bool],
) -> bool:
    """Take the record's snapshot and clip paths into the row; whether anything changed (``used``
    gets the uploads the row now points at)."""
    changed = False
    for kind in ("snapshot", "clip"):
        new_path = evidence[kind]
        if new_path is None:
            # a later state without evidence keeps what an earlier one brought, unless it is the
            # final state saying the evidence failed: then the path announced earlier (no file was
            # ever uploaded for it) must not be offered as a clip to download
            failed = rec.state.value == "ended" and "evidence_error" in (rec.details or {})
            if newer and failed and getattr(row, kind) is not None:
                setattr(row, kind, None)
                changed = True
            continue
        uploaded = kind in staged
        if getattr(row, kind) is None or (newer and (uploaded or getattr(row, kind) != new_path)):
            setattr(row, kind, new_path)
            changed = True
            if uploaded:
                used[staged[kind].relative] = True
    return changed


def _store(
    session: Session, rec: ViolationIn, staged: dict[str, StagedFile], writer_site: str | None = None
) -> _Stored:
    site = ensure_site(session, rec.site, _offset_min(rec.started_at))
    ensure_camera(session, rec.site, rec.camera)
    values = _values(rec, _site_zone(site))
    evidence = {"snapshot": rec.snapshot, "clip": rec.clip}
    for kind, s in staged.items():
        evidence[kind] = s.relative
    now = utcnow()
    row_values = {
        "id": rec.id,
        "site": rec.site,
        "camera": rec.camera,
        "rule": rec.rule,
        "zone": rec.zone,
        **values,
        **evidence,
        "review_status": "unreviewed",
        "created_at": now,
        "updated_at": now,
    }
    if insert_ignore(session, cast(Table, Violation.__table__), row_values, ["id"]):
        row = session.get(Violation, rec.id)
        if row is None:  # pragma: no cover
            raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, "violation row vanished")
        return _Stored("created", row, {s.relative: True for s in staged.values()})

    row = session.scalars(select(Violation).where(Violation.id == rec.id).with_for_update()).one()
    _check_rewrite(row, rec, writer_site)
    used: dict[str, bool] = {}
    incoming, stored = _rank(rec.state.value, rec.duration_s), _rank(row.state, row.duration_s)
    newer = incoming >= stored
    changed = False
    if newer and not _same(row, values):
        for key, value in values.items():
            setattr(row, key, value)
        changed = True
    changed = _merge_evidence(row, rec, evidence, staged, newer, used) or changed
    if not changed:
        return _Stored("unchanged" if newer else "stale", row, used)
    row.updated_at = now
    session.flush()
    return _Stored("updated", row, used)
