"""Cameras: zones for the zone editor (and for pipelines to pick up), and the latest frame.

Camera ids are unique within a site, not across sites, so every route takes an optional
``site``; it is needed only when the id alone is ambiguous (a branch head's own site is implied).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.audit import AuditLog
from api.deps import (
    READERS,
    AuthUser,
    Pipeline,
    PipelineDep,
    Principal,
    Reader,
    SessionDep,
    SettingsDep,
    ZoneEditor,
    get_db,
    get_settings,
    require_user_or_pipeline,
    scoped_site,
)
from api.evidence import looks_like
from api.ingest import ensure_camera, ensure_site
from api.metrics import ApiMetrics
from api.models import Camera, CameraReport, utcnow
from api.schemas import CameraPublic, PipelineMetricsIn, ZoneCounts, ZonesPublic, ZonesUpdate
from api.settings import Settings
from vision.config import ID_PATTERN, AppConfig, zone_problems

router = APIRouter(prefix="/cameras", tags=["cameras"])
metrics_router = APIRouter(prefix="/metrics", tags=["metrics"])
CAMERA_STATES = ("up", "reconnecting", "down")

CameraId = Annotated[str, Path(pattern=ID_PATTERN, description="camera id from the config")]
SiteQuery = Annotated[
    str | None, Query(pattern=ID_PATTERN, description="needed when the id exists at several sites")
]
ZoneReader = Annotated[Principal, Depends(require_user_or_pipeline(*READERS))]
FRAME_BODY = {"required": True, "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}


def find_camera(session: Session, camera_id: str, site: str | None, user: AuthUser | None) -> Camera:
    if user is not None:
        if not user.sees_all_sites() and site is not None and site != user.site:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera_id}")
        site = scoped_site(user, site)
    q = select(Camera).where(Camera.camera_id == camera_id)
    if site is not None:
        q = q.where(Camera.site == site)
    rows = session.scalars(q.order_by(Camera.site)).all()
    if not rows:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no camera {camera_id}" + (f" at {site}" if site else "")
        )
    if len(rows) > 1:
        sites = ", ".join(r.site for r in rows)
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"camera {camera_id} exists at sites {sites}; add ?site="
        )
    return rows[0]


def zones_etag(cam: Camera) -> str:
    """Names the zones version (weak: the ``live`` counts in the same body are not part of it)."""
    stamp = int(cam.zones_updated_at.timestamp() * 1000) if cam.zones_updated_at else 0
    return f'W/"zones-{cam.zones_version}-{stamp}"'


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    opaque = etag.removeprefix("W/")
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or opaque in tags


def _zones_public(session: Session, cam: Camera) -> ZonesPublic:
    report = session.get(CameraReport, (cam.site, cam.camera_id))
    live = {}
    for zone, counts in ((report.zone_counts if report else None) or {}).items():
        try:
            live[zone] = ZoneCounts.model_validate(counts)
        except ValueError:  # a row written by another version; counts are advisory
            continue
    return ZonesPublic(
        site=cam.site,
        camera=cam.camera_id,
        zones=list(cam.zones or []),
        version=cam.zones_version,
        updated_at=cam.zones_updated_at,
        updated_by=cam.zones_updated_by,
        live=live,
        live_at=report.reported_at if report is not None and report.zone_counts else None,
        frame_at=cam.frame_at,
        applied_version=report.zones_applied_version if report else None,
    )


CLOCK_DRIFT_LIMIT_S = 60.0  # bank inspections want the recording clock within a minute


def _drift(drift: float | None) -> dict[str, Any]:
    return {"clock_drift_s": drift, "clock_drift_alarm": drift is not None and abs(drift) > CLOCK_DRIFT_LIMIT_S}


@router.get("", response_model=list[CameraPublic])
def list_cameras(
    request: Request,
    session: SessionDep,
    user: Reader,
    site: SiteQuery = None,
    reported: Annotated[
        bool, Query(description="also list cameras known only from pipeline status reports (never a frame)")
    ] = False,
) -> list[CameraPublic]:
    """Cameras with violations, frames or zones, each with its last reported status; with
    ``reported=true`` also those known only from status reports (a camera that never delivered a
    frame is listed, ``down``, so that operators see it)."""
    site = scoped_site(user, site)
    q = select(Camera).order_by(Camera.site, Camera.camera_id)
    if site is not None:
        q = q.where(Camera.site == site)
    reports = select(CameraReport).where(CameraReport.status.is_not(None))
    if site is not None:
        reports = reports.where(CameraReport.site == site)
    statuses: dict[tuple[str, str], tuple[str | None, datetime | None, float | None]] = {
        (r.site, r.camera): (r.status, r.status_at, r.clock_drift_s) for r in session.scalars(reports)
    }
    out = []
    for c in session.scalars(q):
        status_, at, drift = statuses.pop((c.site, c.camera_id), (None, None, None))
        out.append(CameraPublic(site=c.site, camera=c.camera_id, zones_version=c.zones_version,
                                has_frame=c.frame_at is not None, frame_at=c.frame_at, last_seen=c.last_seen,
                                status=status_, status_at=at, **_drift(drift)))
    for (s, cam), (status_, at, drift) in sorted(statuses.items()) if reported else ():
        if site is None or s == site:
            out.append(CameraPublic(site=s, camera=cam, zones_version=0, has_frame=False, frame_at=None,
                                    last_seen=None, status=status_, status_at=at, **_drift(drift)))
    return out


@router.get(
    "/{camera_id}/zones",
    response_model=ZonesPublic,
    responses={304: {"description": "If-None-Match names the current zones version: nothing changed"}},
    summary="Zones of a camera; pipelines poll this (with their API key and If-None-Match)",
)
def get_zones(
    camera_id: CameraId,
    request: Request,
    response: Response,
    session: SessionDep,
    who: ZoneReader,
    site: SiteQuery = None,
    if_none_match: Annotated[str | None, Header(alias="if-none-match")] = None,
) -> ZonesPublic | Response:
    """A pipeline polls with the ETag of its last answer and gets 304 until an editor saves, so
    zones change without a restart. Never cached by browsers: the body carries live counts."""
    user = who if isinstance(who, AuthUser) else None
    if isinstance(who, Pipeline) and who.site is not None:
        # a key bound to a site reads only that site's zones
        if site is not None:
            who.check_site(site)
        site = who.site
    cam = find_camera(session, camera_id, site, user)
    etag = zones_etag(cam)
    headers = {"ETag": etag, "Cache-Control": "no-store"}
    if _etag_matches(if_none_match, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    response.headers.update(headers)
    return _zones_public(session, cam)


@router.put(
    "/{camera_id}/zones",
    response_model=ZonesPublic,
    responses={412: {"description": "If-Match names an older version: someone else saved meanwhile"}},
    summary="Replace a camera's zones (validated like the config file)",
)
def put_zones(
    camera_id: CameraId,
    body: ZonesUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    user: ZoneEditor,
    site: SiteQuery = None,
    if_match: Annotated[str | None, Header(alias="if-match")] = None,
) -> ZonesPublic:
    """With ``If-Match`` (the ETag the editor loaded) a save over someone else's newer one is
    refused rather than silently overwriting it."""
    try:
        cam = find_camera(session, camera_id, site, user)
        if if_match is not None and not _etag_matches(if_match, zones_etag(cam)):
            raise HTTPException(
                status.HTTP_412_PRECONDITION_FAILED,
                f"zones of {camera_id} changed since you loaded them (now version {cam.zones_version}"
                + (f", saved by {cam.zones_updated_by}" if cam.zones_updated_by else "")
                + "); reload and apply your change again",
            )
    except HTTPException as exc:
        if exc.status_code != status.HTTP_404_NOT_FOUND:
            raise
        if site is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no camera {camera_id}; pass ?site= to create its zones"
            ) from None
        ensure_site(session, site)
        cam = ensure_camera(session, site, camera_id)
    _check_rules(request, cam, body)
    cam.zones = [z.model_dump(mode="json") for z in body.zones]
    cam.zones_version += 1
    cam.zones_updated_at = utcnow()
    cam.zones_updated_by = user.username
    audit: AuditLog = request.app.state.audit
    audit.add(
        session,
        request,
        "update_zones",
        user=user,
        site=cam.site,
        camera=cam.camera_id,
        detail=f"version {cam.zones_version}: {', '.join(z.name for z in body.zones) or 'no zones'}",
    )
    session.commit()
    response.headers["ETag"] = zones_etag(cam)
    return _zones_public(session, cam)


def _check_rules(request: Request, cam: Camera, body: ZonesUpdate) -> None:
    """Where the API was started with the site's config, zones that would leave one of the camera's
    rules without its zone (or with one of the wrong kind) are refused here, with the config's own
    check, rather than saved and then refused by the pipeline."""
    config: AppConfig | None = getattr(request.app.state, "config", None)
    if config is None or config.site.id != cam.site:
        return
    camera = next((c for c in config.cameras if c.id == cam.camera_id), None)
    problems = zone_problems(camera.rules, body.zones) if camera is not None else []
    if camera is not None and problems:
        p = problems[0]
        raise HTTPException(422, f"rule {p.rule} ({camera.rules[p.rule].type}) of {cam.camera_id}: {p.message}")


def _frame_path(settings: Settings, cam: Camera) -> FilePath:
    return settings.frames_path / cam.site / f"{cam.camera_id}.jpg"


@router.get(
    "/{camera_id}/snapshot",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "no frame uploaded yet"}},
    summary="The latest frame a pipeline uploaded (for the zone editor)",
)
def get_camera_snapshot(
    camera_id: CameraId, session: SessionDep, user: Reader, settings: SettingsDep, site: SiteQuery = None
) -> Response:
    cam = find_camera(session, camera_id, site, user)
    path = _frame_path(settings, cam)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no frame from camera {camera_id} yet") from None
    return Response(
        data,
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.post(
    "/{camera_id}/frame",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra={"requestBody": FRAME_BODY},
    responses={
        413: {"description": "larger than TELLERWATCH_MAX_FRAME_BYTES"},
        422: {"description": "not a JPEG, or site missing"},
    },
    summary="Pipelines upload the latest frame of a camera (JPEG body)",
)
async def post_frame(
    camera_id: CameraId, request: Request, pipeline: PipelineDep, site: Annotated[str, Query(pattern=ID_PATTERN)]
) -> Response:
    pipeline.check_site(site)
    data = await request.body()
    if not looks_like("snapshot", data[:16]):
        raise HTTPException(422, "the body must be a JPEG image")
    settings = get_settings(request)
    db = get_db(request)

    def store() -> None:
        with db.session() as session:
            ensure_site(session, site)
            cam = ensure_camera(session, site, camera_id)
            path = _frame_path(settings, cam)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".frame.", dir=path.parent)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
            cam.frame_at = utcnow()
            session.commit()

    await run_in_threadpool(store)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@metrics_router.post(
    "/pipeline",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Pipelines report frame rate, per-stage latency and per-zone counts",
)
def post_pipeline_metrics(
    body: PipelineMetricsIn, request: Request, pipeline: PipelineDep, session: SessionDep
) -> Response:
    pipeline.check_site(body.site)
    m: ApiMetrics = request.app.state.metrics
    _observe_camera(m, body)
    # the camera list's status and what the zone editor shows: in the database because any
    # replica may serve the pages
    now = utcnow()
    values: dict[str, object] = {"status": body.status, "status_at": now, "clock_drift_s": body.clock_drift_s}
    if body.zones or body.zones_version is not None:
        values["reported_at"] = now
        if body.zones:
            values["zone_counts"] = {zone: counts.model_dump() for zone, counts in body.zones.items()}
        if body.zones_version is not None:
            values["zones_applied_version"] = body.zones_version
    upsert(session, CameraReport, {"site": body.site, "camera": body.camera}, values)
    session.commit()
    if body.outbox_pending is not None:
        m.outbox_pending.labels(body.site).set(body.outbox_pending)
    if body.outbox_dead is not None:
        m.outbox_dead.labels(body.site).set(body.outbox_dead)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _observe_camera(m: ApiMetrics, body: PipelineMetricsIn) -> None:
    """A camera's report into the Prometheus series of this replica."""
    labels = (body.site, body.camera)
    m.camera_fps.labels(*labels).set(body.fps if body.fps is not None else body.analysed / body.interval_s)
    m.camera_up.labels(*labels).set(1 if body.status == "up" else 0)
    for state in CAMERA_STATES:
        m.camera_status.labels(*labels, state).set(1 if body.status == state else 0)
    m.camera_frames.labels(*labels).inc(body.frames)
    m.camera_analysed.labels(*labels).inc(body.analysed)
    m.camera_dropped.labels(*labels).inc(body.dropped)
    m.camera_report.labels(*labels).set(time.time())
    if body.clock_drift_s is not None:
        m.camera_clock_drift.labels(*labels).set(body.clock_drift_s)
    for stage, samples in body.stages.items():
        hist = m.stage_latency.labels(body.site, body.camera, stage)
        for s in samples:
            hist.observe(s)
    for zone, counts in (body.zones or {}).items():
        for kind in ("persons", "staff", "items"):
            m.zone_count.labels(body.site, body.camera, zone, kind).set(getattr(counts, kind))


def upsert(session: Session, model: type[CameraReport], key: dict[str, object], values: dict[str, object]) -> None:
    """One statement on both databases (``INSERT .. ON CONFLICT DO UPDATE``): replicas may race."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table: Any = model.__table__
    stmt = insert(table).values(**key, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=values))
