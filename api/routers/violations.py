"""Reading and reviewing violations, and downloading their evidence."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

import av
from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, status
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api import evidence, privacy
from api.audit import AuditLog
from api.deps import AuthUser, Reader, Reviewer, SessionDep, SettingsDep, may_see_site, query_time, scoped_site
from api.live import LiveMessage
from api.models import Camera, Violation, utcnow
from api.schemas import BulkReviewResult, ViolationBulkUpdate, ViolationList, ViolationPublic, ViolationUpdate

router = APIRouter(prefix="/violations", tags=["violations"])
log = logging.getLogger(__name__)

SORTS = {
    "started_at": Violation.started_at,
    "-started_at": Violation.started_at.desc(),
    "duration_s": Violation.duration_s,
    "-duration_s": Violation.duration_s.desc(),
    "updated_at": Violation.updated_at,
    "-updated_at": Violation.updated_at.desc(),
    "camera": Violation.camera,
    "-camera": Violation.camera.desc(),
    "rule": Violation.rule,
    "-rule": Violation.rule.desc(),
}
SortKey = Literal[
    "started_at",
    "-started_at",
    "duration_s",
    "-duration_s",
    "updated_at",
    "-updated_at",
    "camera",
    "-camera",
    "rule",
    "-rule",
]
ReviewFilter = Literal["unreviewed", "reviewed", "acknowledged", "true_positive", "false_positive"]
ViolationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]



@router.get("", response_model=ViolationList, summary="List violations, newest first by default")
def list_violations(
    session: SessionDep,
    user: Reader,
    site: Annotated[str | None, Query(max_length=128)] = None,
    camera: Annotated[str | None, Query(max_length=128)] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    zone: Annotated[str | None, Query(max_length=128)] = None,
    state: Literal["open", "ended"] | None = None,
    review_status: ReviewFilter | None = None,
    date_: Annotated[
        date | None, Query(alias="date", description="start date in the site's local time")
    ] = None,
    from_: Annotated[
        datetime | None, Query(alias="from", description="started at or after (ISO 8601)")
    ] = None,
    to: Annotated[datetime | None, Query(description="started before (ISO 8601)")] = None,
    date_from: Annotated[
        date | None, Query(description="start date in the site's local time on or after this day")
    ] = None,
    date_to: Annotated[
        date | None, Query(description="start date in the site's local time on or before this day")
    ] = None,
    search: Annotated[
        str | None,
        Query(alias="q", min_length=1, max_length=200, description="text in the review note (any case)"),
    ] = None,
    sort: SortKey = "-started_at",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ViolationList:
    q: Select[tuple[Violation]] = select(Violation)
    site = scoped_site(user, site)
    conditions = []
    if site is not None:
        conditions.append(Violation.site == site)
    if camera is not None:
        conditions.append(Violation.camera == camera)
    if rule is not None:
        conditions.append(Violation.rule == rule)
    if zone is not None:
        conditions.append(Violation.zone == zone)
    if state is not None:
        conditions.append(Violation.state == state)
    if review_status == "reviewed":
        conditions.append(Violation.review_status != "unreviewed")
    elif review_status is not None:
        conditions.append(Violation.review_status == review_status)
    if date_ is not None:
        conditions.append(Violation.local_date == date_)
    if (start := query_time(from_, "from")) is not None:
        conditions.append(Violation.started_at >= start)
    if (before := query_time(to, "to")) is not None:
        conditions.append(Violation.started_at < before)
    conditions.extend(_range_and_search(date_from, date_to, search))
    q = q.where(*conditions)
    total = session.scalar(select(func.count()).select_from(Violation).where(*conditions)) or 0
    rows = session.scalars(q.order_by(SORTS[sort], Violation.id).limit(limit).offset(offset)).all()
    return ViolationList(items=render_rows(list(rows)), total=total, limit=limit, offset=offset)


def render_rows(rows: Sequence[Any]) -> list[ViolationPublic]:
    """Each row rendered on its own: one that cannot be rendered is logged and left out rather
    than failing the whole page."""
    items = []
    for r in rows:
        try:
            items.append(ViolationPublic.from_row(r))
        except (ValueError, TypeError, OverflowError) as exc:  # pydantic's ValidationError is a ValueError
            log.warning("violation %s cannot be rendered and is left out of the list: %s", r.id, exc)
    return items


@router.patch(
    "",
    response_model=BulkReviewResult,
    responses={404: {"description": "one of the ids is unknown or not the caller's to see; nothing changed"}},
    summary="Review many violations at once (at most 500 ids, all or nothing)",
)
def review_many(
    body: ViolationBulkUpdate, request: Request, session: SessionDep, user: Reviewer
) -> BulkReviewResult:
    """Each id is authorised as a single PATCH would be; if any one is refused nothing changes."""
    ids = list(dict.fromkeys(body.ids))
    rows = {r.id: r for r in session.scalars(select(Violation).where(Violation.id.in_(ids)))}
    missing = [i for i in ids if i not in rows or not may_see_site(user, rows[i].site)]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no violation {shown}; nothing was changed")
    now = utcnow()
    audit: AuditLog = request.app.state.audit
    detail = (body.review_status or "note") + (f": {body.note}" if body.note else "") + f" (bulk of {len(ids)})"
    for i in ids:
        row = rows[i]
        if body.review_status is not None:
            row.review_status = body.review_status
        if body.note is not None:
            row.review_note = body.note
        row.reviewed_by = user.username
        row.reviewed_at = row.updated_at = now
        audit.add(
            session, request, "review_violation", user=user, site=row.site, camera=row.camera,
            violation_id=row.id, detail=detail,
        )
    session.commit()
    items = [ViolationPublic.from_row(rows[i]) for i in ids]
    live = request.app.state.live
    for public in items:
        live.publish(LiveMessage(public.site, public.camera, "violation", public.model_dump(mode="json")))
    return BulkReviewResult(updated=len(items), items=items)


def _range_and_search(date_from: date | None, date_to: date | None, q: str | None) -> list[Any]:
    """The date-range and note-search filters of the review page."""
    conditions: list[Any] = []
    if date_from is not None:
        conditions.append(Violation.local_date >= date_from)
    if date_to is not None:
        conditions.append(Violation.local_date <= date_to)
    if q is not None and q.strip():
        # autoescape: a % or _ typed into the search box is looked for as itself
        conditions.append(Violation.review_note.icontains(q.strip(), autoescape=True))
    return conditions


def visible(session: Session, user: AuthUser, violation_id: str) -> Violation:
    """The violation if this user may see it; another site's looks exactly like a missing one."""
    row = session.get(Violation, violation_id)
    if row is None or not may_see_site(user, row.site):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no violation {violation_id}")
    return row


@router.get("/{violation_id}", response_model=ViolationPublic)
def get_violation(violation_id: ViolationId, session: SessionDep, user: Reader) -> ViolationPublic:
    return ViolationPublic.from_row(visible(session, user, violation_id))


@router.patch(
    "/{violation_id}",
    response_model=ViolationPublic,
    summary="Review: acknowledge, true/false positive, note",
)
def review_violation(
    violation_id: ViolationId, body: ViolationUpdate, request: Request, session: SessionDep, user: Reviewer
) -> ViolationPublic:
    row = visible(session, user, violation_id)
    if body.review_status is not None:
        row.review_status = body.review_status
    if body.note is not None:
        row.review_note = body.note
    row.reviewed_by = user.username
    row.reviewed_at = row.updated_at = utcnow()
    audit: AuditLog = request.app.state.audit
    audit.add(
        session,
        request,
        "review_violation",
        user=user,
        site=row.site,
        camera=row.camera,
        violation_id=row.id,
        detail=(body.review_status or "note") + (f": {body.note}" if body.note else ""),
    )
    session.commit()
    public = ViolationPublic.from_row(row)
    request.app.state.live.publish(
        LiveMessage(row.site, row.camera, "violation", public.model_dump(mode="json"))
    )
    return public


def own_evidence(settings: SettingsDep, row: Violation, kind: str) -> FilePath | None:
    """The file a row's evidence pointer names, only if it is that violation's own (its site,
    camera and id): rows stored before pointers were checked at ingest cannot lead elsewhere."""
    relative = (row.details or {}).get("clip_annotated") if kind == "clip_annotated" else getattr(row, kind)
    if not isinstance(relative, str) or not evidence.pointer_ok(relative, kind, row.site, row.camera, row.id):
        return None
    return evidence.resolve(settings.evidence_path, relative)


def missing_evidence(row: Violation, kind: str, evidence_dir: FilePath) -> HTTPException:
    """410 when the record names its own file and that file is gone (evidence expires after
    ``evidence.retention_days``; the record stays), 404 when it names none."""
    relative = getattr(row, kind)
    if (isinstance(relative, str) and evidence.pointer_ok(relative, kind, row.site, row.camera, row.id)
            and evidence.gone(evidence_dir, relative)):
        # a file still there that is not served (a link out of the folder) stays 404
        return HTTPException(status.HTTP_410_GONE, f"the {kind} of violation {row.id} has expired (evidence is "
                             "deleted after evidence.retention_days, 30 by default); the record stays")
    return HTTPException(status.HTTP_404_NOT_FOUND, f"violation {row.id} has no {kind} file")


def audit_view(
    request: Request, session: Session, user: AuthUser, row: Violation, kind: str, range_: str | None
) -> None:
    """One row per view or download, not per byte range a player asks for while seeking; the
    detail names the annotated variant and a blurred export (``privacy=blur``)."""
    if range_ is not None and not range_.replace(" ", "").startswith("bytes=0-"):
        return
    download = request.query_params.get("download") in ("1", "true", "yes")
    what = "clip" if kind.startswith("clip") else "snapshot"
    notes = ["annotated"] if kind == "clip_annotated" else []
    if request.query_params.get("privacy") == "blur":
        notes.append("privacy=blur")
    audit: AuditLog = request.app.state.audit
    audit.add(
        session,
        request,
        f"{'download' if download else 'view'}_{what}",
        user=user,
        site=row.site,
        camera=row.camera,
        violation_id=row.id,
        detail=", ".join(notes) or None,
    )
    session.commit()


def blurred(session: Session, settings: SettingsDep, row: Violation, kind: str, path: FilePath) -> FilePath:
    """The evidence file with faces outside the camera's teller_area zones blurred (all faces where
    the camera's zones are unknown), made once and kept in the exports cache."""
    cam = session.scalars(select(Camera).where(Camera.site == row.site, Camera.camera_id == row.camera)).first()
    zones = list(cam.zones) if cam is not None and cam.zones else None
    suffix = ".jpg" if kind == "snapshot" else ".mp4"
    target = settings.exports_path / row.site / f"{row.id}.{kind}.{privacy.cache_key(path, zones)}{suffix}"
    if target.is_file():
        return target
    try:
        if kind == "snapshot":
            privacy.blur_snapshot(path, target, zones)
        else:
            privacy.blur_clip(path, target, zones)
    except (ValueError, OSError, av.FFmpegError) as exc:
        log.warning("violation %s: cannot blur its %s: %s", row.id, kind, exc)
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, f"the {kind} could not be re-encoded") from None
    privacy.prune(settings.exports_path)
    return target


def serve(
    session: Session, settings: SettingsDep, row: Violation, kind: str, path: FilePath, range_header: str | None,
    *, download: bool, privacy_: str | None,
) -> Response:
    """The file (or its blurred export) with Range support, named after the violation."""
    suffix = ".annotated.mp4" if kind == "clip_annotated" else evidence.KINDS[kind][0]
    media_type = "image/jpeg" if kind == "snapshot" else "video/mp4"
    if privacy_ == "blur":
        path = blurred(session, settings, row, kind, path)
        suffix = ".blurred" + suffix
    return evidence.file_response(path, media_type, range_header, f"{row.id}{suffix}", attachment=download)


def _evidence(
    kind: str,
    violation_id: str,
    request: Request,
    session: Session,
    user: AuthUser,
    settings: SettingsDep,
    range_header: str | None,
    download: bool = False,
    privacy_: str | None = None,
) -> Response:
    row = visible(session, user, violation_id)
    path = own_evidence(settings, row, kind)
    if path is None:
        raise missing_evidence(row, kind, settings.evidence_path)
    response = serve(session, settings, row, kind, path, range_header, download=download, privacy_=privacy_)
    audit_view(request, session, user, row, kind, range_header)
    return response


DownloadQuery = Annotated[
    bool, Query(description="1: answer with Content-Disposition: attachment (the browser saves the file)")
]
PrivacyQuery = Annotated[
    Literal["blur"] | None,
    Query(alias="privacy", description="blur: faces outside the camera's teller_area zones blurred (every face "
          "where the zones are unknown); clips are re-encoded as H.264, the file is named <id>.blurred.mp4 / .jpg"),
]

RANGE_RESPONSES: dict[int | str, dict[str, object]] = {
    206: {"description": "the requested byte range"},
    404: {"description": "no such violation, or no file"},
    410: {"description": "the record's file expired under evidence.retention_days (the record stays)"},
    416: {"description": "range not satisfiable"},
}


@router.get(
    "/{violation_id}/clip",
    response_class=Response,
    responses=RANGE_RESPONSES,
    summary="The MP4 clip; honours HTTP Range so players can seek",
)
def get_clip(
    violation_id: ViolationId,
    request: Request,
    session: SessionDep,
    user: Reader,
    settings: SettingsDep,
    range_: Annotated[str | None, Header(alias="range")] = None,
    download: DownloadQuery = False,
    privacy_: PrivacyQuery = None,
) -> Response:
    return _evidence("clip", violation_id, request, session, user, settings, range_, download, privacy_)


@router.get(
    "/{violation_id}/clip/annotated",
    response_class=Response,
    responses=RANGE_RESPONSES,
    summary="The annotated MP4 clip (boxes, zones, rule state drawn in); honours HTTP Range",
)
def get_annotated_clip(
    violation_id: ViolationId,
    request: Request,
    session: SessionDep,
    user: Reader,
    settings: SettingsDep,
    range_: Annotated[str | None, Header(alias="range")] = None,
    download: DownloadQuery = False,
    privacy_: PrivacyQuery = None,
) -> Response:
    """Served from ``details.clip_annotated`` where that file is in the evidence folder (a pipeline
    sharing the API's data dir); a pushed record whose annotated clip stayed on the branch box
    answers 404, and the pages fall back to the raw clip."""
    row = visible(session, user, violation_id)
    path = own_evidence(settings, row, "clip_annotated")
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"violation {violation_id} has no annotated clip")
    with path.open("rb") as f:
        if not evidence.looks_like("clip", f.read(16)):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"violation {violation_id} has no annotated clip")
    response = serve(session, settings, row, "clip_annotated", path, range_, download=download, privacy_=privacy_)
    audit_view(request, session, user, row, "clip_annotated", range_)
    return response


@router.get(
    "/{violation_id}/snapshot",
    response_class=Response,
    responses=RANGE_RESPONSES,
    summary="The JPEG snapshot",
)
def get_snapshot(
    violation_id: ViolationId,
    request: Request,
    session: SessionDep,
    user: Reader,
    settings: SettingsDep,
    range_: Annotated[str | None, Header(alias="range")] = None,
    download: DownloadQuery = False,
    privacy_: PrivacyQuery = None,
) -> Response:
    return _evidence("snapshot", violation_id, request, session, user, settings, range_, download, privacy_)
