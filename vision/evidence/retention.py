"""Deleting old evidence so a branch box's disk never fills, without touching what people need.

Evidence is grouped per violation (snapshot, raw clip, annotated clip share the id), and a group
is deleted whole: a clip without its snapshot, or the reverse, would confuse the review page.
The pipeline protects its open violations; ``serve`` (``api.retention``) deletes by age only,
which a finished violation's files reach long after they were uploaded. Age counts from
a group's newest file, i.e. from when its evidence was finished.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# longest first, so "x.annotated.mp4" is not read as id "x.annotated"
EVIDENCE_SUFFIXES = (".annotated.mp4.part", ".annotated.mp4", ".mp4.part", ".jpg.part", ".mp4", ".jpg")


def violation_id_of(filename: str) -> str | None:
    """The violation id an evidence file belongs to; None for files that are not evidence."""
    for suffix in EVIDENCE_SUFFIXES:
        if filename.endswith(suffix) and len(filename) > len(suffix):
            return filename[: -len(suffix)]
    return None


@dataclass
class _Group:
    vid: str
    files: list[Path] = field(default_factory=list)
    size: int = 0
    mtime: float = 0.0
    writing: bool = False  # holds a .part file: a clip is being encoded right now


@dataclass(frozen=True, slots=True)
class RetentionReport:
    deleted_ids: tuple[str, ...]
    deleted_bytes: int
    kept_bytes: int
    protected_bytes: int
    errors: tuple[str, ...] = ()


def _scan(evidence_dir: Path) -> list[_Group]:
    """Evidence groups under ``evidence_dir`` (per folder and violation id), oldest first."""
    groups: dict[tuple[str, str], _Group] = {}
    for dirpath, _dirs, names in os.walk(evidence_dir):
        for name in names:
            vid = violation_id_of(name)
            if vid is None:
                continue
            path = Path(dirpath) / name
            try:
                st = path.stat()
            except OSError:
                continue  # deleted meanwhile
            group = groups.setdefault((dirpath, vid), _Group(vid))
            group.files.append(path)
            group.size += st.st_size
            group.mtime = max(group.mtime, st.st_mtime)
            group.writing = group.writing or name.endswith(".part")
    return sorted(groups.values(), key=lambda g: g.mtime)


@dataclass
class _Deleter:
    total: int
    deleted: list[str] = field(default_factory=list)
    deleted_bytes: int = 0
    errors: list[str] = field(default_factory=list)

    def delete(self, group: _Group) -> None:
        for path in group.files:
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                size = 0
            except OSError as exc:
                self.errors.append(f"{path}: {exc}")
                log.warning("retention could not delete %s: %s", path, exc)
                continue
            self.total -= size
            self.deleted_bytes += size
        self.deleted.append(group.vid)


def apply_retention(
    evidence_dir: Path,
    max_age_days: float | None,
    max_total_bytes: int | None,
    protected_ids: Collection[str] = frozenset(),
    *,
    now: float | None = None,
) -> RetentionReport:
    """Delete evidence older than ``max_age_days``, then the oldest until under ``max_total_bytes``.

    ``evidence_dir`` may be the whole ``evidence/`` folder or one camera's folder beneath it. Files
    of ``protected_ids`` are never deleted (they still count toward the total, so the total can
    stay above the limit). A group still being written (a ``.part`` file) is only deleted by age.
    ``None`` turns a limit off. Deletion errors are logged and reported, never raised: retention
    runs in the background of a pipeline that must keep going.
    """
    if max_age_days is not None and max_age_days <= 0:
        raise ValueError(f"max_age_days must be > 0 or None; got {max_age_days}")
    if max_total_bytes is not None and max_total_bytes < 0:
        raise ValueError(f"max_total_bytes must be >= 0 or None; got {max_total_bytes}")
    now = time.time() if now is None else now
    protected = set(protected_ids)
    if not evidence_dir.is_dir():
        return RetentionReport((), 0, 0, 0)
    ordered = _scan(evidence_dir)
    protected_bytes = sum(g.size for g in ordered if g.vid in protected)
    run = _Deleter(total=sum(g.size for g in ordered))

    remaining: list[_Group] = []
    cutoff = now - max_age_days * 86400 if max_age_days is not None else None
    for group in ordered:
        if group.vid not in protected and cutoff is not None and group.mtime < cutoff:
            run.delete(group)
        else:
            remaining.append(group)
    if max_total_bytes is not None:
        for group in remaining:
            if run.total <= max_total_bytes:
                break
            if group.vid not in protected and not group.writing:
                run.delete(group)
    if run.deleted:
        log.info("retention deleted evidence of %d violation(s), %d bytes, under %s",
                 len(run.deleted), run.deleted_bytes, evidence_dir)
    return RetentionReport(tuple(run.deleted), run.deleted_bytes, run.total, protected_bytes, tuple(run.errors))


# GA 38-2015: alarm video is kept at least this many days. ``validate`` warns below it (a lab
# or a test box may keep less on purpose); it does not refuse.
REQUIRED_RETENTION_DAYS = 30.0
RATE_WINDOW_DAYS = 7.0


@dataclass(frozen=True, slots=True)
class DiskForecast:
    """How many days of evidence the disk under ``evidence_dir`` holds at the measured rate.

    The privacy exports cache (``serve``'s ``DATA/exports``), where it lies on the same disk, is
    counted apart: its files expire after a day, so those older than that are room (``serve``
    deletes them), while the day's cache stands (it is not free space, and is not more evidence).
    """

    evidence_dir: Path
    free_bytes: int
    evidence_bytes: int  # evidence on disk now (it is rolled over, so it counts as room)
    bytes_per_day: float  # measured over the last RATE_WINDOW_DAYS (at least one day of span)
    required_days: float
    exports_bytes: int | None = None  # the exports cache on this disk; None: not looked at / elsewhere
    expired_exports_bytes: int = 0  # of it, files past their day: room

    @property
    def days_held(self) -> float | None:
        """Days of evidence the disk holds; None when nothing was recorded (no rate)."""
        if self.bytes_per_day <= 0:
            return None
        return (self.free_bytes + self.evidence_bytes + self.expired_exports_bytes) / self.bytes_per_day

    @property
    def short(self) -> bool:
        held = self.days_held
        return held is not None and held < self.required_days

    def message(self) -> str:
        held = self.days_held
        exports = ""
        if self.exports_bytes is not None:
            exports = (f" + {self.expired_exports_bytes} bytes of expired exports (privacy exports cache: "
                       f"{self.exports_bytes} bytes)")
        return (f"evidence disk {self.evidence_dir}: {self.free_bytes} bytes free + {self.evidence_bytes} bytes of "
                f"evidence{exports}, measured {self.bytes_per_day:.0f} bytes/day over the last "
                f"{RATE_WINDOW_DAYS:g} days: holds {held if held is None else round(held, 1)} days, "
                f"{self.required_days:g} required")


def measured_rate(evidence_dir: Path, *, now: float | None = None,
                  window_days: float = RATE_WINDOW_DAYS) -> tuple[float, int]:
    """(bytes per day of evidence written in the last ``window_days``, bytes of all evidence on disk).

    The span is from the oldest file in the window to now, at least one day, so a box that has
    recorded for an hour is not extrapolated into a huge rate.
    """
    now = time.time() if now is None else now
    start = now - window_days * 86400
    recent = 0
    oldest = now
    total = 0
    for group in _scan(evidence_dir) if evidence_dir.is_dir() else []:
        total += group.size
        if group.mtime >= start:
            recent += group.size
            oldest = min(oldest, group.mtime)
    span_days = max((now - oldest) / 86400, 1.0)
    return recent / span_days, total


def _existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def exports_usage(exports_dir: Path, max_age_s: float, *, now: float | None = None) -> tuple[int, int]:
    """(bytes of every file under ``exports_dir``, bytes of those older than ``max_age_s``)."""
    now = time.time() if now is None else now
    total = expired = 0
    for dirpath, _dirs, names in os.walk(exports_dir):
        for name in names:
            try:
                st = (Path(dirpath) / name).stat()
            except OSError:
                continue  # deleted meanwhile
            total += st.st_size
            expired += st.st_size if st.st_mtime < now - max_age_s else 0
    return total, expired


def disk_forecast(evidence_dir: Path, required_days: float = REQUIRED_RETENTION_DAYS, *,
                  now: float | None = None, exports_dir: Path | None = None,
                  exports_max_age_s: float = 86400.0) -> DiskForecast:
    """The forecast for ``evidence_dir`` (its nearest existing parent's disk if it does not exist);
    with ``exports_dir``, the exports cache is counted where it lies on the same disk."""
    rate, total = measured_rate(evidence_dir, now=now)
    probe = _existing(evidence_dir)
    free = shutil.disk_usage(probe).free
    exports, expired = None, 0
    if exports_dir is not None and _existing(exports_dir).stat().st_dev == probe.stat().st_dev:
        exports, expired = exports_usage(exports_dir, exports_max_age_s, now=now) if exports_dir.is_dir() else (0, 0)
    return DiskForecast(evidence_dir, free, total, rate, required_days, exports, expired)


def capacity_warning(evidence_dir: Path, retention_days: Collection[float | None], *,
                     exports_dir: Path | None = None, exports_max_age_s: float = 86400.0) -> str | None:
    """A warning line when the disk under ``evidence_dir`` cannot keep the longest retention asked.

    Every camera's evidence shares that disk, so the rate is that of the whole folder and the days
    required are the longest of the cameras' ``evidence.retention_days`` (None counts as
    REQUIRED_RETENTION_DAYS); None when the disk holds enough, or nothing was recorded yet. The
    exports cache under ``exports_dir`` is counted as ``DiskForecast`` says.
    """
    required = max((d or REQUIRED_RETENTION_DAYS for d in retention_days), default=REQUIRED_RETENTION_DAYS)
    forecast = disk_forecast(evidence_dir, required, exports_dir=exports_dir, exports_max_age_s=exports_max_age_s)
    return f"warning: {forecast.message()}" if forecast.short else None


def short_retention_warnings(retention_days: dict[str, float | None]) -> list[str]:
    """``validate``'s warnings: cameras that keep evidence less than GA 38-2015's 30 days."""
    return [f"warning: camera {cam}: evidence.retention_days {days:g} is under the {REQUIRED_RETENTION_DAYS:g} "
            "days GA 38-2015 asks for alarm video"
            for cam, days in retention_days.items() if days is not None and days < REQUIRED_RETENTION_DAYS]
