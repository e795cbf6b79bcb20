"""Reading and reviewing violations, and downloading their evidence."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, status
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api import evidence
from api.deps import AuthUser, Reader, Reviewer, SessionDep, SettingsDep, may_see_site, scoped_site
from api.live import LiveMessage
from api.models import Violation, utcnow
from api.schemas import ViolationList, ViolationPublic, ViolationUpdate

router = APIRouter(prefix="/violations", tags=["violations"])

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


def _aware(ts: datetime | None) -> datetime | None:
    """A time without an offset in a query string is taken as UTC."""
    if ts is None:
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


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
    if from_ is not None:
        conditions.append(Violation.started_at >= _aware(from_))
    if to is not None:
        conditions.append(Violation.started_at < _aware(to))
    q = q.where(*conditions)
    total = session.scalar(select(func.count()).select_from(Violation).where(*conditions)) or 0
    rows = session.scalars(q.order_by(SORTS[sort], Violation.id).limit(limit).offset(offset)).all()
    return ViolationList(
        items=[ViolationPublic.from_row(r) for r in rows], total=total, limit=limit, offset=offset
    )


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
    session.commit()
    public = ViolationPublic.from_row(row)
    request.app.state.live.publish(
        LiveMessage(row.site, row.camera, "violation", public.model_dump(mode="json"))
    )
    return public


def _evidence(
    kind: str,
    violation_id: str,
    session: Session,
    user: AuthUser,
    settings: SettingsDep,
    range_header: str | None,
    download: bool = False,
) -> Response:
    row = visible(session, user, violation_id)
    path = evidence.resolve(settings.evidence_path, getattr(row, kind))
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"violation {violation_id} has no {kind} file")
    suffix, media_type = evidence.KINDS[kind]
    return evidence.file_response(path, media_type, range_header, f"{violation_id}{suffix}", attachment=download)


DownloadQuery = Annotated[
    bool, Query(description="1: answer with Content-Disposition: attachment (the browser saves the file)")
]

RANGE_RESPONSES: dict[int | str, dict[str, object]] = {
    206: {"description": "the requested byte range"},
    404: {"description": "no such violation, or no file"},
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
    session: SessionDep,
    user: Reader,
    settings: SettingsDep,
    range_: Annotated[str | None, Header(alias="range")] = None,
    download: DownloadQuery = False,
) -> Response:
    return _evidence("clip", violation_id, session, user, settings, range_, download)


@router.get(
    "/{violation_id}/clip/annotated",
    response_class=Response,
    responses=RANGE_RESPONSES,
    summary="The annotated MP4 clip (boxes, zones, rule state drawn in); honours HTTP Range",
)
def get_annotated_clip(
    violation_id: ViolationId,
    session: SessionDep,
    user: Reader,
    settings: SettingsDep,
    range_: Annotated[str | None, Header(alias="range")] = None,
    download: DownloadQuery = False,
) -> Response:
    """Served from ``details.clip_annotated`` where that file is in the evidence folder (a pipeline
    sharing the API's data dir); a pushed record whose annotated clip stayed on the branch box
    answers 404, and the pages fall back to the raw clip."""
    row = visible(session, user, violation_id)
    relative = (row.details or {}).get("clip_annotated")
    path = evidence.resolve(settings.evidence_path, relative if isinstance(relative, str) else None)
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"violation {violation_id} has no annotated clip")
    with path.open("rb") as f:
        if not evidence.looks_like("clip", f.read(16)):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"violation {violation_id} has no annotated clip")
    return evidence.file_response(path, "video/mp4", range_, f"{violation_id}.annotated.mp4", attachment=download)


@router.get(
    "/{violation_id}/snapshot",
    response_class=Response,
    responses=RANGE_RESPONSES,
    summary="The JPEG snapshot",
)
def get_snapshot(
    violation_id: ViolationId,
    session: SessionDep,
    user: Reader,
    settings: SettingsDep,
    range_: Annotated[str | None, Header(alias="range")] = None,
    download: DownloadQuery = False,
) -> Response:
    return _evidence("snapshot", violation_id, session, user, settings, range_, download)
