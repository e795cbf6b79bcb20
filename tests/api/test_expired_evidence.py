"""Evidence expires, records stay: once retention deleted a record's files, its row is still
listed and its snapshot/clip answer 410 with a message saying so, not a confusing 404."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.testclient import TestClient

from api.settings import Settings
from tests.api.helpers import INGEST_KEY, JPEG, MP4, record
from vision.evidence.retention import apply_retention


def test_expired_evidence_answers_410_and_the_record_stays(
    client: TestClient, users: Any, settings: Settings
) -> None:
    rec = record(site="site-a")
    r = client.post("/api/v1/events", headers={"X-API-Key": INGEST_KEY}, data={"record": json.dumps(rec)},
                    files={"snapshot": ("s.jpg", JPEG, "image/jpeg"), "clip": ("c.mp4", MP4, "video/mp4")})
    assert r.status_code == 201, r.text
    vid, op = rec["id"], users.headers("operator")
    assert client.get(f"/api/v1/violations/{vid}/snapshot", headers=op).status_code == 200

    # 31 days later, the 30-day retention deletes this record's files
    report = apply_retention(settings.evidence_path, 30, None, now=time.time() + 31 * 86400)
    assert vid in report.deleted_ids
    for kind in ("snapshot", "clip"):
        r = client.get(f"/api/v1/violations/{vid}/{kind}", headers=op)
        assert r.status_code == 410, r.text
        assert "expired" in r.json()["detail"] and "record stays" in r.json()["detail"]
    row = client.get(f"/api/v1/violations/{vid}", headers=op)
    assert row.status_code == 200 and row.json()["id"] == vid
    # a record that never had a file still answers 404
    bare = record(site="site-a")
    assert client.post("/api/v1/events", headers={"X-API-Key": INGEST_KEY}, json=bare).status_code == 201
    assert client.get(f"/api/v1/violations/{bare['id']}/clip", headers=op).status_code == 404
