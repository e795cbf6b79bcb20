"""Summaries for branch heads: a day, week or month per site, camera and rule, with an
hour-by-hour profile, a day-by-day one, and how long reviews took per rule."""

from __future__ import annotations

import csv
import io
import re
import statistics
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.audit import AuditLog
from api.deps import Reader, SessionDep, scoped_site
from api.models import Site, Violation
from api.schemas import FIRST_DAY, LAST_DAY, DailySummary, DaySummary, RuleSummary, SummaryRow

router = APIRouter(prefix="/summaries", tags=["summaries"])

CSV_COLUMNS = [
    "date",
    "period",
    "start",
    "end",
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


Period = Literal["day", "week", "month"]


def period_bounds(day: date, period: Period) -> tuple[date, date]:
    """First and last day (inclusive) of the ISO week or calendar month holding ``day``."""
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if period == "month":
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return start, following - timedelta(days=1)
    return day, day


def latest_day(session: Session, site: str | None) -> date | None:
    """The latest local date with any violation at ``site`` (every site when ``None``)."""
    # a row stored before times were checked at ingest (year 9999, say) is not "the latest day"
    q = select(func.max(Violation.local_date)).where(Violation.local_date.between(FIRST_DAY, LAST_DAY))
    if site is not None:
        q = q.where(Violation.site == site)
    return session.scalar(q)


def daily_summary(session: Session, day: date, site: str | None, period: Period = "day") -> DailySummary:
    """The day's (or its week's or month's) figures; false positives are counted apart, never in
    ``count``, ``total``, the durations or the hour profile."""
    v = Violation
    start, end = period_bounds(day, period)
    fp = v.review_status == "false_positive"
    real = v.review_status != "false_positive"
    where = [v.local_date >= start, v.local_date <= end]
    if site is not None:
        where.append(v.site == site)
    q = (
        select(
            v.site,
            v.camera,
            v.rule,
            v.local_hour,
            func.sum(case((real, 1), else_=0)).cast(Integer),
            func.coalesce(func.sum(case((real, v.duration_s), else_=0.0)), 0.0),
            func.coalesce(func.max(case((real, v.duration_s), else_=None)), 0.0),
            func.sum(case(((v.state == "open") & real, 1), else_=0)).cast(Integer),
            func.sum(case(((v.review_status != "unreviewed") & real, 1), else_=0)).cast(Integer),
            func.sum(case((fp, 1), else_=0)).cast(Integer),
        )
        .where(*where)
        .group_by(v.site, v.camera, v.rule, v.local_hour)
    )
    rows: dict[tuple[str, str, str], SummaryRow] = {}
    for s, cam, rule, hour, n, total, longest, open_, reviewed, fps in session.execute(q):
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
        r.count += int(n or 0)
        r.total_duration_s = round(r.total_duration_s + float(total or 0.0), 3)
        r.longest_duration_s = round(max(r.longest_duration_s, float(longest or 0.0)), 3)
        r.open += int(open_ or 0)
        r.reviewed += int(reviewed or 0)
        r.false_positive += int(fps or 0)
        r.hourly[int(hour)] += int(n or 0)
    ordered = [rows[k] for k in sorted(rows)]

    per_day: dict[date, tuple[int, int]] = {}
    day_q = (
        select(
            v.local_date,
            func.sum(case((real, 1), else_=0)).cast(Integer),
            func.sum(case((fp, 1), else_=0)).cast(Integer),
        )
        .where(*where)
        .group_by(v.local_date)
    )
    for d, n, fps in session.execute(day_q):
        per_day[d] = (int(n or 0), int(fps or 0))
    days = []
    d = start
    while d <= end:
        n, fps = per_day.get(d, (0, 0))
        days.append(DaySummary(date=d, count=n, false_positives=fps))
        d += timedelta(days=1)

    waits: dict[str, list[float]] = {}
    review_q = select(v.rule, v.created_at, v.reviewed_at).where(
        *where, v.review_status != "unreviewed", v.reviewed_at.is_not(None)
    )
    for rule, created, reviewed_at in session.execute(review_q):
        if reviewed_at is None:
            continue
        waits.setdefault(rule, []).append(max(0.0, (reviewed_at - created).total_seconds()))
    by_rule = []
    for rule in sorted({r.rule for r in ordered} | set(waits)):
        mine = [r for r in ordered if r.rule == rule]
        times = waits.get(rule, [])
        by_rule.append(
            RuleSummary(
                rule=rule,
                count=sum(r.count for r in mine),
                false_positives=sum(r.false_positive for r in mine),
                reviewed=len(times),
                median_review_s=round(statistics.median(times), 3) if times else None,
            )
        )
    return DailySummary(
        date=day,
        site=site,
        period=period,
        start=start,
        end=end,
        rows=ordered,
        total=sum(r.count for r in ordered),
        false_positives=sum(r.false_positive for r in ordered),
        by_rule=by_rule,
        days=days,
    )


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
                summary.period,
                summary.start.isoformat(),
                summary.end.isoformat(),
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
    summary="A day's (or its week's or month's) violations per site, camera and rule",
)
def get_daily(
    request: Request,
    session: SessionDep,
    user: Reader,
    date_: Annotated[
        date | None,
        Query(
            alias="date",
            description="local date at the site; default the latest day with violations the caller may see",
        ),
    ] = None,
    site: Annotated[str | None, Query(max_length=128)] = None,
    period: Annotated[
        Period, Query(description="day, or the ISO week (Monday-Sunday) or calendar month holding date")
    ] = "day",
    format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> DailySummary | Response:
    site = scoped_site(user, site)
    if date_ is not None and not (FIRST_DAY <= date_ <= LAST_DAY):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "date must lie between the years 2000 and 2100")
    day = date_ or latest_day(session, site) or _site_today(session, site)
    summary = daily_summary(session, day, site, period)
    if format_ == "csv":
        # the site comes from the query string: keep the header to safe ASCII (a non-Latin-1 or a
        # quote character there was a 500, or a broken header)
        safe_site = re.sub(r"[^A-Za-z0-9_.-]", "_", site or "all")
        span = day.isoformat() if period == "day" else f"{period}-{summary.start.isoformat()}"
        name = f"tellerwatch-{safe_site}-{span}.csv"
        audit: AuditLog = request.app.state.audit
        audit.add(session, request, "export_summary_csv", user=user, site=site, detail=f"{period} {span}")
        session.commit()
        return Response(
            to_csv(summary),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return summary
