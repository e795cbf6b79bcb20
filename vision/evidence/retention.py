"""Deleting old evidence so a branch box's disk never fills, without touching what people need.

Evidence is grouped per violation (snapshot, raw clip, annotated clip share the id), and a group
is deleted whole: a clip without its snapshot, or the reverse, would confuse the review page.
The pipeline protects its open violations; the API protects those under review. Age counts from
a group's newest file, i.e. from when its evidence was finished.
"""

from __future__ import annotations

import logging
import os
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
