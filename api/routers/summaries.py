"""Daily summaries for branch heads: per site, camera and rule, with an hour-by-hour profile."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request
from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.audit import AuditLog
from api.deps import Reader, SessionDep, scoped_site
from api.models import Site, Violation
from api.schemas import DailySummary, SummaryRow

router = APIRouter(prefix="/summaries", tags=["summaries"])

CSV_COLUMNS = [
    "date",
    "site",
    "camera",
    "rule",
    "count",
    "total_duration_s",
    "longest_duration_s",
    "open",
    "reviewed",
    "false_positive",
    *[f"h{h:02d}" for h in range(24)],
]


def _site_today(session: Session, site: str | None) -> date:
    """'Today' where the branch is, so a head opening the page after midnight UTC sees their day."""
    row = session.get(Site, site) if site else None
    if row is not None and row.timezone:
        try:
            return datetime.now(ZoneInfo(row.timezone)).date()
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if row is not None and row.utc_offset_min is not None:
        return datetime.now(timezone(timedelta(minutes=row.utc_offset_min))).date()
    return datetime.now(UTC).date()


def daily_summary(session: Session, day: date, site: str | None) -> DailySummary:
    v = Violation
    q = (
        select(
            v.site,
            v.camera,
            v.rule,
            v.local_hour,
            func.count(),
            func.coalesce(func.sum(v.duration_s), 0.0),
            func.coalesce(func.max(v.duration_s), 0.0),
            func.sum(case((v.state == "open", 1), else_=0)).cast(Integer),
            func.sum(case((v.review_status != "unreviewed", 1), else_=0)).cast(Integer),
            func.sum(case((v.review_status == "false_positive", 1), else_=0)).cast(Integer),
        )
        .where(v.local_date == day)
        .group_by(v.site, v.camera, v.rule, v.local_hour)
    )
    if site is not None:
        q = q.where(v.site == site)
    rows: dict[tuple[str, str, str], SummaryRow] = {}
    for s, cam, rule, hour, n, total, longest, open_, reviewed, fp in session.execute(q):
        key = (s, cam, rule)
        r = rows.get(key)
        if r is None:
            r = rows[key] = SummaryRow(
                site=s,
                camera=cam,
                rule=rule,
                count=0,
                total_duration_s=0.0,
                longest_duration_s=0.0,
                open=0,
                reviewed=0,
                false_positive=0,
                hourly=[0] * 24,
            )
        r.count += int(n)
        r.total_duration_s = round(r.total_duration_s + float(total), 3)
        r.longest_duration_s = round(max(r.longest_duration_s, float(longest)), 3)
        r.open += int(open_ or 0)
        r.reviewed += int(reviewed or 0)
        r.false_positive += int(fp or 0)
        r.hourly[int(hour)] += int(n)
    ordered = [rows[k] for k in sorted(rows)]
    return DailySummary(date=day, site=site, rows=ordered, total=sum(r.count for r in ordered))


def _cell(text: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(summary: DailySummary) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in summary.rows:
        w.writerow(
            [
                summary.date.isoformat(),
                _cell(r.site),
                _cell(r.camera),
                _cell(r.rule),
                r.count,
                f"{r.total_duration_s:.3f}",
                f"{r.longest_duration_s:.3f}",
                r.open,
                r.reviewed,
                r.false_positive,
                *r.hourly,
            ]
        )
    return buf.getvalue()


@router.get(
    "/daily",
    response_model=DailySummary,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
    summary="One day's violations per site, camera and rule",
)
def get_daily(
    request: Request,
    session: SessionDep,
    user: Reader,
    date_: Annotated[
        date | None, Query(alias="date", description="local date at the site; default today")
    ] = None,
    site: Annotated[str | None, Query(max_length=128)] = None,
    format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> DailySummary | Response:
    site = scoped_site(user, site)
    day = date_ or _site_today(session, site)
    summary = daily_summary(session, day, site)
    if format_ == "csv":
        # the site comes from the query string: keep the header to safe ASCII (a non-Latin-1 or a
        # quote character there was a 500, or a broken header)
        safe_site = re.sub(r"[^A-Za-z0-9_.-]", "_", site or "all")
        name = f"tellerwatch-{safe_site}-{day.isoformat()}.csv"
        audit: AuditLog = request.app.state.audit
        audit.add(session, request, "export_summary_csv", user=user, site=site, detail=f"date {day.isoformat()}")
        session.commit()
        return Response(
            to_csv(summary),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return summary
