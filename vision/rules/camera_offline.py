"""Camera offline: no frames from a camera for ``grace_s`` is a violation, not only a status.

The rule is not stepped by observations (an offline camera makes none). A live camera's thread
tells it of every frame (``frame``), a watchdog thread asks it once in a while (``tick``, wall
time) and files the violation once the silence has lasted ``grace_s``. ``started_at`` is the last
frame before the silence (the open of the stream when none came), ``ended_at`` the first frame
back, or the moment the run stopped. Both threads call in, so the state is under a lock.

A recording (file or folder) is stepped in media time instead (``step``): a frame stamped
``grace_s`` or more after the previous one is video loss in the recording (an NVR file's hole),
filed and ended at once, from the last frame before the hole to the first one after it. Its end
is not an outage: nothing is filed for the time after the last frame.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from vision.config import CameraOfflineRule as CameraOfflineConfig
from vision.config import RuleBase
from vision.events import (
    ChangeKind,
    RuleType,
    Severity,
    Violation,
    ViolationChange,
    ViolationState,
    new_violation_id,
)


class CameraOfflineRule:
    type = RuleType.camera_offline
    config_type = CameraOfflineConfig

    def __init__(self, config: RuleBase, *, site_id: str, camera_id: str, since: datetime | None) -> None:
        if not isinstance(config, CameraOfflineConfig):
            raise ValueError(f"CameraOfflineRule needs a CameraOfflineConfig config, got {type(config).__name__}")
        self.config: CameraOfflineConfig = config
        self.zone = config.zone
        self.site_id, self.camera_id = site_id, camera_id
        self.grace = timedelta(seconds=config.grace_s)
        self._lock = threading.Lock()
        self._last = since  # the last frame, or the open of the stream; None: no frame yet (media time)
        self._open: Violation | None = None
        self._closed = False  # the run stopped: a late watchdog look files nothing

    @property
    def open_violation(self) -> Violation | None:
        return self._open

    def frame(self, ts: datetime) -> list[ViolationChange]:
        """A frame arrived at ``ts``: an open violation ends here."""
        with self._lock:
            self._last = ts if self._last is None else max(self._last, ts)
            return self._end(ts)

    def step(self, ts: datetime) -> list[ViolationChange]:
        """A recorded frame stamped ``ts`` (media time): a hole of ``grace_s`` or more since the
        previous frame is filed and ended here ([] otherwise)."""
        return self.tick(ts) + self.frame(ts)

    def tick(self, now: datetime) -> list[ViolationChange]:
        """The watchdog's look: a silence of ``grace_s`` files the violation."""
        with self._lock:
            if self._closed or self._open is not None or self._last is None or now - self._last < self.grace:
                return []
            started = self._last
            self._open = Violation(
                id=new_violation_id(), site=self.site_id, camera=self.camera_id, rule=self.type.value,
                zone=self.zone, severity=Severity(self.config.severity), state=ViolationState.open,
                started_at=started, ended_at=None, duration_s=(now - started).total_seconds(),
                details={"last_frame_at": started.isoformat(), "grace_s": self.config.grace_s},
            )
            return [ViolationChange(kind=ChangeKind.started, violation=self._open)]

    def close(self, at: datetime) -> list[ViolationChange]:
        """The run stops: what is open ends at ``at``."""
        with self._lock:
            self._closed = True
            return self._end(at)

    def _end(self, at: datetime) -> list[ViolationChange]:
        v = self._open
        if v is None:
            return []
        self._open = None
        at = max(at, v.started_at)
        ended = v.model_copy(update={
            "state": ViolationState.ended, "ended_at": at, "duration_s": (at - v.started_at).total_seconds(),
        })
        return [ViolationChange(kind=ChangeKind.ended, violation=ended)]
