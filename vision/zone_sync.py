"""Zones edited in the web page reach a running pipeline without a restart.

A ``ZonePoller`` thread asks the API for each camera's zones every few seconds with the last
ETag (a 304 costs nothing). A new version is validated with the same ``ZoneConfig`` model as the
config file and checked against the camera's rules (a rule whose zone disappeared would stop
enforcing the regulation, so such a version is refused and logged); the camera thread then
picks it up between two frames with ``take``. Version 0, or a version written from the config
file itself (``updated_by: config``), means nobody has edited the zones in the page yet: the
config file's zones stay.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import httpx
from pydantic import ValidationError

from vision.config import ApiSinkConfig, CameraConfig, ZoneConfig, duplicate_zone_names, zone_problems

log = logging.getLogger(__name__)


def check_against_rules(camera: CameraConfig, zones: list[ZoneConfig]) -> str | None:
    """Why these zones cannot replace the camera's, or None when every rule still has its zone
    (the config file's own check, ``vision.config.zone_problems``)."""
    dup = duplicate_zone_names(zones)
    if dup:
        return f"zone names repeat: {', '.join(dup)}"
    problems = zone_problems(camera.rules, zones)
    if not problems:
        return None
    p = problems[0]
    return f"rule {p.rule} ({camera.rules[p.rule].type}): {p.message}"


class ZonePoller:
    def __init__(self, api: ApiSinkConfig, site: str, cameras: list[CameraConfig], interval_s: float = 5.0) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self._api = api
        self._site = site
        self._cameras = {c.id: c for c in cameras}
        self._interval = interval_s
        self._etags: dict[str, str] = {}
        self._pending: dict[str, tuple[int, list[ZoneConfig]]] = {}
        self.applied: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        key = os.environ.get(api.key_env, "").strip()
        self._client = httpx.Client(base_url=api.url.rstrip("/"), timeout=api.timeout_s,
                                    headers={"X-API-Key": key, "User-Agent": "tellerwatch-pipeline"})

    def start(self) -> ZonePoller:
        self._thread = threading.Thread(target=self._run, name="zone-poller", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._api.timeout_s + 1)
        self._client.close()

    def take(self, camera_id: str) -> tuple[int, list[ZoneConfig]] | None:
        """The newest accepted zones for this camera since the last call, with their version."""
        with self._lock:
            return self._pending.pop(camera_id, None)

    def mark_applied(self, camera_id: str, version: int) -> None:
        with self._lock:
            self.applied[camera_id] = version

    def _run(self) -> None:
        while not self._stop.is_set():
            for cam_id in list(self._cameras):
                if self._stop.is_set():
                    break
                self.poll_once(cam_id)
            self._stop.wait(self._interval)

    def poll_once(self, camera_id: str) -> bool:
        """One request; True when a new version was accepted."""
        headers = {}
        if camera_id in self._etags:
            headers["If-None-Match"] = self._etags[camera_id]
        try:
            r = self._client.get(f"/api/v1/cameras/{camera_id}/zones", params={"site": self._site}, headers=headers)
        except httpx.HTTPError as exc:
            log.debug("zones of %s: API unreachable (%s)", camera_id, exc)
            return False
        if r.status_code == 304 or r.status_code != 200:
            if r.status_code not in (304, 404):
                log.warning("zones of %s: API answered %s", camera_id, r.status_code)
            return False
        etag = r.headers.get("ETag")
        if etag:
            self._etags[camera_id] = etag
        try:
            body: dict[str, Any] = r.json()
            version = int(body.get("version", 0))
        except (ValueError, TypeError):
            log.warning("zones of %s: unreadable answer", camera_id)
            return False
        if version == 0 or self.applied.get(camera_id) == version:
            return False
        if body.get("updated_by") == "config":  # the config file's own zones, registered at start-up
            self.mark_applied(camera_id, version)
            return False
        try:
            zones = [ZoneConfig.model_validate(z) for z in body.get("zones", [])]
        except ValidationError as exc:
            log.warning("zones of %s version %s refused: %s", camera_id, version, exc.errors()[0]["msg"])
            return False
        problem = check_against_rules(self._cameras[camera_id], zones)
        if problem:
            log.warning("zones of %s version %s refused: %s", camera_id, version, problem)
            return False
        with self._lock:
            self._pending[camera_id] = (version, zones)
        log.info("zones of %s: version %s will apply from the next frame", camera_id, version)
        return True
