"""``serve`` applies retention to its own evidence folder: a background task deletes evidence
files older than the retention (records stay, and answer 410) and expired privacy exports, at
start and every ``retention_interval_s``. Real files on disk, ages set with ``os.utime``, on each
database backend."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.retention import serve_retention_days, sweep
from api.settings import Settings
from tests.api.conftest import make_settings
from tests.api.helpers import INGEST_KEY, JPEG, MP4, record
from vision.config import parse_config

DAY = 86400.0


def _age(paths: list[Path], days: float) -> None:
    when = time.time() - days * DAY
    for p in paths:
        os.utime(p, (when, when))


def _ingest(client: TestClient) -> tuple[str, list[Path], Settings]:
    rec = record(site="site-a")
    r = client.post("/api/v1/events", headers={"X-API-Key": INGEST_KEY}, data={"record": json.dumps(rec)},
                    files={"snapshot": ("s.jpg", JPEG, "image/jpeg"), "clip": ("c.mp4", MP4, "video/mp4")})
    assert r.status_code == 201, r.text
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    files = sorted(settings.evidence_path.rglob(f"{rec['id']}.*"))
    assert [f.suffix for f in files] == [".jpg", ".mp4"]
    return rec["id"], files, settings


def _wait(what: str, cond: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _status(client: TestClient, vid: str, kind: str, headers: dict[str, str]) -> int:
    return client.get(f"/api/v1/violations/{vid}/{kind}", headers=headers).status_code


def test_serve_deletes_expired_evidence_and_exports_periodically(
    app: FastAPI, users: Any, database_url: str, tmp_path: Path
) -> None:
    served = create_app(make_settings(database_url, tmp_path / "data", retention_interval_s=1))
    op = users.headers("operator")
    plain = TestClient(served)  # no lifespan yet: nothing is swept
    old, old_files, settings = _ingest(plain)
    young, young_files, _ = _ingest(plain)
    later, later_files, _ = _ingest(plain)
    _age(old_files, 31)  # past the 30 days
    _age(young_files, 29)
    exports = settings.exports_path / "site-a"
    exports.mkdir(parents=True)
    stale, fresh = exports / f"{old}.clip.k1.mp4", exports / f"{young}.clip.k2.mp4"
    stale.write_bytes(MP4)
    fresh.write_bytes(MP4)
    _age([stale], 1.5)  # the cache keeps a file a day
    _age([fresh], 0.5)
    unrelated = settings.evidence_path / "notes.txt"  # not evidence: never touched
    unrelated.write_text("x")
    _age([unrelated], 400)

    with TestClient(served) as client:  # the lifespan starts the task: a pass at start
        task = served.state.retention
        assert task.days == 30.0
        _wait("the first pass", lambda: not any(p.exists() for p in old_files))
        assert all(p.exists() for p in young_files + later_files) and unrelated.exists()
        assert not stale.exists() and fresh.exists()
        for kind in ("snapshot", "clip"):
            assert _status(client, old, kind, op) == 410
            assert _status(client, young, kind, op) == 200
        listed = {v["id"] for v in client.get("/api/v1/violations", headers=op).json()["items"]}
        assert {old, young, later} <= listed  # records stay
        # a day later for the young record: the next pass (every retention_interval_s) deletes it
        passes = task.sweeps
        _age(young_files, 30.5)
        _wait("a later pass", lambda: task.sweeps >= passes + 2)
        assert not any(p.exists() for p in young_files)
        assert _status(client, young, "clip", op) == 410 and _status(client, later, "clip", op) == 200
    assert task._task is not None and task._task.done()  # stopped with the app


def test_retention_off_keeps_evidence_but_not_stale_exports(app: FastAPI, database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "data", evidence_retention_days=0)
    served = create_app(settings)
    vid, files, _ = _ingest(TestClient(served))
    _age(files, 3650)
    stale = settings.exports_path / "site-a" / "x.clip.k.mp4"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(MP4)
    _age([stale], 2)
    result = sweep(settings, serve_retention_days(settings))
    assert result.evidence is None and result.exports_deleted == 1
    assert all(p.exists() for p in files) and not stale.exists()


CONFIG = """
site: {id: site-a}
cameras:
  - {id: cam-1, source: a.mp4, evidence: {retention_days: 45}}
  - {id: cam-2, source: b.mp4, evidence: {retention_days: 7}}
"""


def test_serve_retention_days_source(tmp_path: Path) -> None:
    base = Settings(env="dev")
    assert base.evidence_retention_days == 30.0 and serve_retention_days(base) == 30.0
    assert serve_retention_days(Settings(env="dev", evidence_retention_days=90)) == 90.0
    assert serve_retention_days(Settings(env="dev", evidence_retention_days=0)) is None
    cfg = parse_config(CONFIG, base_dir=tmp_path, check_files=False)
    # --config: never sooner than a camera asks (45 > 30); the 7-day camera does not shorten it
    assert serve_retention_days(base, cfg) == 45.0
    assert serve_retention_days(Settings(env="dev", evidence_retention_days=60), cfg) == 60.0
    keep = parse_config(CONFIG.replace("retention_days: 7", "retention_days: null"), base_dir=tmp_path,
                        check_files=False)
    assert serve_retention_days(base, keep) is None  # a camera keeps its evidence: none deleted by age


def test_serve_disk_warning_asks_for_the_days_serve_keeps(monkeypatch: Any, tmp_path: Path) -> None:
    from tellerwatch.cli import _serve_retention

    monkeypatch.setenv("TELLERWATCH_ENV", "dev")
    monkeypatch.setenv("TELLERWATCH_EVIDENCE_RETENTION_DAYS", "90")
    cfg = parse_config(CONFIG, base_dir=tmp_path, check_files=False)
    assert _serve_retention(None) == [90.0] and _serve_retention(cfg) == [90.0]
    monkeypatch.setenv("TELLERWATCH_EVIDENCE_RETENTION_DAYS", "-1")  # refused: serve stops with that error
    assert _serve_retention(cfg) == [45.0, 7.0]
