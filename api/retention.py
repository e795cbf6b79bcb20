"""Retention on the API side: ``serve`` deletes expired files from its own evidence folder and
from the privacy exports cache, every ``retention_interval_s``, in a background task.

Files go, records stay: a record whose evidence expired is still listed and its ``/snapshot`` and
``/clip`` answer 410. How long evidence is kept (``serve_retention_days``): the server's
``TELLERWATCH_EVIDENCE_RETENTION_DAYS`` (30 by default, GA 38-2015's minimum), or, with
``--config``, the longest of that and the config's cameras' ``evidence.retention_days``, so the
server never deletes sooner than a camera's config asks; a camera that keeps its evidence
(``retention_days: null``) or the setting 0 turns deletion by age off. The exports cache keeps a
file a day (``api.privacy.EXPORT_MAX_AGE_S``): it is remade on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from api import privacy
from api.settings import Settings
from vision.config import AppConfig
from vision.evidence.retention import RetentionReport, apply_retention

log = logging.getLogger("tellerwatch.api.retention")


def serve_retention_days(settings: Settings, config: AppConfig | None = None) -> float | None:
    """Days ``serve`` keeps evidence; None: it deletes none by age."""
    days: float | None = settings.evidence_retention_days or None
    if config is None or days is None:
        return days
    cameras = [c.evidence.retention_days for c in config.cameras]
    if any(d is None for d in cameras):
        return None
    return max([days, *(d for d in cameras if d is not None)])


@dataclass(frozen=True, slots=True)
class Sweep:
    evidence: RetentionReport | None  # None: deletion by age is off
    exports_deleted: int


def sweep(settings: Settings, days: float | None, *, now: float | None = None) -> Sweep:
    """One pass: evidence older than ``days`` (whole groups: a violation's snapshot and clips) and
    exports older than a day are deleted. Errors are logged, never raised."""
    now = time.time() if now is None else now
    report = apply_retention(settings.evidence_path, days, None, now=now) if days is not None else None
    gone = privacy.prune(settings.exports_path, now=now)
    if gone:
        log.info("deleted %d expired privacy export(s) under %s", gone, settings.exports_path)
    return Sweep(report, gone)


class RetentionTask:
    """The app lifespan's background task: a sweep at start, then every ``retention_interval_s``
    (the scan runs in a worker thread, so requests are not held up)."""

    def __init__(self, settings: Settings, config: AppConfig | None) -> None:
        self.settings = settings
        self.days = serve_retention_days(settings, config)
        self.sweeps = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(sweep, self.settings, self.days)
            except Exception:  # a broken pass must not end the task  # noqa: BLE001
                log.exception("retention pass failed")
            self.sweeps += 1
            await asyncio.sleep(self.settings.retention_interval_s)
