"""The audit trail: admins read it (JSON or CSV); the pages report what the API cannot see (print)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, field_serializer
from sqlalchemy import func, select
from starlette.responses import Response

from api.audit import ACTIONS, AuditLog
from api.deps import Admin, Reader, SessionDep, may_see_site, query_time
from api.models import AuditEntry
from api.routers.summaries import _cell
from vision.config import ID_PATTERN
from vision.events import iso_ms

router = APIRouter(prefix="/audit", tags=["audit"])
CSV_COLUMNS = ("at", "user", "role", "ip", "action", "site", "camera", "violation_id", "detail")


class AuditPublic(BaseModel):
    at: datetime
    user: str | None
    role: str | None
    ip: str | None
    action: str
    site: str | None
    camera: str | None
    violation_id: str | None
    detail: str | None

    @field_serializer("at")
    def _iso(self, v: datetime) -> str:
        return iso_ms(v)


class AuditList(BaseModel):
    items: list[AuditPublic]
    total: int
    limit: int
    offset: int


class PrintNotice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: Literal["summary", "violations"]
    site: str | None = Field(None, pattern=ID_PATTERN)
    date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")



@router.get(
    "",
    response_model=AuditList,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
    summary="The audit trail, newest first (admin)",
)
def list_audit(
    request: Request,
    session: SessionDep,
    admin: Admin,
    from_: Annotated[datetime | None, Query(alias="from", description="at or after (ISO 8601)")] = None,
    to: Annotated[datetime | None, Query(description="before (ISO 8601)")] = None,
    user: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64, description=f"one of {', '.join(ACTIONS)}")] = None,
    site: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> AuditList | Response:
    conditions = []
    if (start := query_time(from_, "from")) is not None:
        conditions.append(AuditEntry.at >= start)
    if (before := query_time(to, "to")) is not None:
        conditions.append(AuditEntry.at < before)
    if user is not None:
        conditions.append(AuditEntry.username == user)
    if action is not None:
        conditions.append(AuditEntry.action == action)
    if site is not None:
        conditions.append(AuditEntry.site == site)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
    q = select(AuditEntry).where(*conditions).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if format_ == "csv":
        rows = session.scalars(q.limit(100_000)).all()
    else:
        rows = session.scalars(q.limit(limit).offset(offset)).all()
    items = [
        AuditPublic(
            at=r.at,
            user=r.username,
            role=r.role,
            ip=r.ip,
            action=r.action,
            site=r.site,
            camera=r.camera,
            violation_id=r.violation_id,
            detail=r.detail,
        )
        for r in rows
    ]
    audit: AuditLog = request.app.state.audit
    if format_ == "csv":
        audit.add(session, request, "export_audit_csv", user=admin, detail=f"{len(items)} rows")
        session.commit()
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for i in items:
            w.writerow(
                [iso_ms(i.at)]
                + [_cell(v or "") for v in (i.user, i.role, i.ip, i.action, i.site, i.camera, i.violation_id, i.detail)]
            )
        return Response(
            buf.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="tellerwatch-audit.csv"',
                "Cache-Control": "no-store",
            },
        )
    return AuditList(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/print",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="The pages report a print (or save as PDF) before opening the print dialog",
)
def report_print(body: PrintNotice, request: Request, session: SessionDep, user: Reader) -> Response:
    site = body.site if body.site is not None and may_see_site(user, body.site) else user.site
    audit: AuditLog = request.app.state.audit
    audit.add(
        session,
        request,
        "print_summary" if body.page == "summary" else "print_violations",
        user=user,
        site=site,
        detail=f"date {body.date}" if body.date else None,
    )
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
