"""The audit trail: who logged in (or failed to), viewed or downloaded evidence, exported or
printed, reviewed, and changed zones or users; kept at least 180 days (``audit_retention_days``).

Rows are written in the same transaction as the change they describe where there is one (a
review, a zone save), so the trail never claims a change that was rolled back.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from fastapi import Request
from sqlalchemy import delete
from sqlalchemy.orm import Session

from api.models import AuditEntry, utcnow
from api.strict import json_safe

# every action names its verb
ACTIONS = (
    "login",
    "login_failed",
    "view_clip",
    "download_clip",
    "view_snapshot",
    "download_snapshot",
    "export_summary_csv",
    "print_summary",
    "print_violations",
    "export_audit_csv",
    "review_violation",
    "update_zones",
    "create_user",
    "remove_user",
)
PRUNE_EVERY_S = 3600.0


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _cut(value: str | None, n: int) -> str | None:
    return None if value is None else str(json_safe(value))[:n]


class AuditLog:
    def __init__(self, retention_days: int) -> None:
        self.retention_days = retention_days
        self._last_prune = 0.0
        self._lock = threading.Lock()

    def add(
        self,
        session: Session,
        request: Request | None,
        action: str,
        *,
        user: Any = None,
        username: str | None = None,
        role: str | None = None,
        site: str | None = None,
        camera: str | None = None,
        violation_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Adds a row to ``session`` (the caller commits). ``user`` is an ``AuthUser``."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        if user is not None:
            username, role = user.username, user.role
        session.add(
            AuditEntry(
                at=utcnow(),
                username=_cut(username, 64),
                role=_cut(role, 32),
                ip=_cut(client_ip(request), 64) if request is not None else None,
                action=action,
                site=_cut(site, 128),
                camera=_cut(camera, 128),
                violation_id=_cut(violation_id, 64),
                detail=_cut(detail, 2000),
            )
        )
        self.maybe_prune(session)

    def maybe_prune(self, session: Session) -> None:
        with self._lock:
            if time.monotonic() - self._last_prune < PRUNE_EVERY_S and self._last_prune:
                return
            self._last_prune = time.monotonic()
        self.prune(session)

    def prune(self, session: Session) -> int:
        """Deletes rows older than the retention (the caller commits)."""
        cutoff = utcnow() - timedelta(days=self.retention_days)
        result: Any = session.execute(delete(AuditEntry).where(AuditEntry.at < cutoff))
        return int(result.rowcount or 0)
