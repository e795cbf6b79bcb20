"""Business hours as the rules see them: is the branch open at a moment, and when does that change.

A window belongs to the weekday it starts on, even when it runs past midnight (``mon: 22:00-02:00``
covers Tuesday 00:00-02:00 as Monday's business). A holiday removes the windows that *start* on
that date; the tail of the previous evening's window still counts, because that shift began on a
working day. All arithmetic happens in UTC so that daylight-saving jumps in the site's zone cannot
make an interval run backwards or compare wrongly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from vision.config import SiteConfig, When

DEFAULT_HORIZON = timedelta(days=14)
_CACHE_DAYS = 64

Interval = tuple[datetime, datetime]  # [start, end) in UTC


class Schedule:
    """The site's business hours, answering point queries and "next boundary" queries.

    Rules call ``is_open`` rarely (they cache the answer until ``next_change``), so clarity wins
    over speed here; per-date intervals are still cached because a live pipeline asks about the
    same few dates all day.
    """

    def __init__(self, site: SiteConfig, *, horizon: timedelta = DEFAULT_HORIZON) -> None:
        if horizon <= timedelta(0):
            raise ValueError(f"horizon must be positive, got {horizon}")
        self.tz: ZoneInfo = site.tz
        self.horizon = horizon
        self._windows = site.windows
        self._holidays = frozenset(site.holidays)
        self._days: dict[date, tuple[Interval, ...]] = {}

    # ------------------------------------------------------------------ time helpers

    def localize(self, ts: datetime) -> datetime:
        """Naive times are taken as the site's wall clock: that is what a camera's OSD shows."""
        return ts.replace(tzinfo=self.tz) if ts.tzinfo is None else ts

    def _utc(self, ts: datetime) -> datetime:
        return self.localize(ts).astimezone(UTC)

    def _local_date(self, utc_ts: datetime) -> date:
        return utc_ts.astimezone(self.tz).date()

    def _day(self, d: date) -> tuple[Interval, ...]:
        cached = self._days.get(d)
        if cached is not None:
            return cached
        out: list[Interval] = []
        if d not in self._holidays:
            for start, end in self._windows.get(d.weekday(), []):
                end_day = d if end > start else d + timedelta(days=1)
                out.append(
                    (
                        datetime.combine(d, start, tzinfo=self.tz).astimezone(UTC),
                        datetime.combine(end_day, end, tzinfo=self.tz).astimezone(UTC),
                    )
                )
        if len(self._days) >= _CACHE_DAYS:
            self._days.clear()
        self._days[d] = tuple(out)
        return self._days[d]

    # ------------------------------------------------------------------ queries

    def is_open(self, ts: datetime) -> bool:
        u = self._utc(ts)
        d = self._local_date(u)
        # a window spills past midnight by less than a day, so yesterday's and today's suffice
        for day in (d - timedelta(days=1), d):
            for start, end in self._day(day):
                if start <= u < end:
                    return True
        return False

    def next_change(self, ts: datetime, horizon: timedelta | None = None) -> datetime | None:
        """The first opening or closing strictly after ``ts``, or None if none within the horizon.

        Overlapping or touching windows are merged first, so ``08:00-12:00`` + ``12:00-17:00``
        has no boundary at noon: a violation must not be cut where nothing changed. The result
        carries ``ts``'s time zone so that violation records keep the offset they came with.
        """
        span = self.horizon if horizon is None else horizon
        u = self._utc(ts)
        limit = u + span
        first, last = self._local_date(u) - timedelta(days=1), self._local_date(limit)
        intervals: list[Interval] = []
        d = first
        while d <= last:
            intervals.extend(self._day(d))
            d += timedelta(days=1)
        intervals.sort()
        merged: list[list[datetime]] = []
        for start, end in intervals:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        # a later date's windows start after ``limit``, so they cannot move a boundary found here
        for start, end in merged:
            for boundary in (start, end):
                if u < boundary <= limit:
                    return boundary.astimezone(self.localize(ts).tzinfo)
        return None

    def applies(self, when: When | str, ts: datetime) -> bool:
        when = When(when)
        if when is When.always:
            return True
        open_now = self.is_open(ts)
        return open_now if when is When.business_hours else not open_now
