"""POST /api/v1/events: keys, idempotency, state ordering, validation, uploads, size limits."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.models import Violation
from api.settings import Settings
from tests.api.helpers import INGEST_KEY, JPEG, MP4, OTHER_KEY, ThreadServer, ended, record

KEY = {"X-API-Key": INGEST_KEY}


def rows(client: TestClient) -> int:
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        return int(s.scalar(select(func.count()).select_from(Violation)) or 0)


def stored(client: TestClient, vid: str) -> Violation | None:
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        return s.get(Violation, vid)


def test_create_then_same_state_is_unchanged(client: TestClient) -> None:
    rec = record()
    r = client.post("/api/v1/events", json=rec, headers=KEY)
    assert r.status_code == 201, r.text
    assert r.json() == {"id": rec["id"], "result": "created", "state": "open"}
    r = client.post("/api/v1/events", json=rec, headers={"X-API-Key": OTHER_KEY})
    assert (r.status_code, r.json()["result"]) == (200, "unchanged")
    assert rows(client) == 1


def test_later_state_updates_and_older_state_is_stale(client: TestClient) -> None:
    rec = record()
    assert client.post("/api/v1/events", json=rec, headers=KEY).status_code == 201
    longer = {**rec, "duration_s": 9.0}
    assert client.post("/api/v1/events", json=longer, headers=KEY).json()["result"] == "updated"
    done = ended(rec)
    assert client.post("/api/v1/events", json=done, headers=KEY).json()["result"] == "updated"
    # a retried open state arriving late must not reopen the violation
    r = client.post("/api/v1/events", json=longer, headers=KEY)
    assert (r.status_code, r.json()["result"], r.json()["state"]) == (200, "stale", "ended")
    got = client.get(f"/api/v1/violations/{rec['id']}", headers={"Authorization": "Bearer x"})
    assert got.status_code == 401
    row = stored(client, rec["id"])
    assert row is not None and row.state == "ended" and row.duration_s == pytest.approx(11.6)
    assert rows(client) == 1


def test_record_round_trips_with_its_offset(client: TestClient, users: Any) -> None:
    rec = ended(record(details={"min_staff_seen": 1, "说明": "双人临柜"}))
    client.post("/api/v1/events", json=rec, headers=KEY)
    got = client.get(f"/api/v1/violations/{rec['id']}", headers=users.headers("operator")).json()
    for key in (
        "id",
        "site",
        "camera",
        "rule",
        "zone",
        "severity",
        "state",
        "track_ids",
        "details",
        "started_at",
        "ended_at",
        "duration_s",
    ):
        assert got[key] == rec[key], key
    assert got["review_status"] == "unreviewed"


def test_identity_clash_is_409_and_writes_nothing(client: TestClient) -> None:
    rec = record()
    client.post("/api/v1/events", json=rec, headers=KEY)
    r = client.post("/api/v1/events", json={**rec, "camera": "counter-9", "duration_s": 50}, headers=KEY)
    assert r.status_code == 409 and "camera" in r.json()["detail"]
    row = stored(client, rec["id"])
    assert row is not None and row.camera == "counter-1" and row.duration_s == 5.0


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"X-API-Key": "wrong-key-0000000000000000"}, 401), ({"X-API-Key": ""}, 401)],
    ids=["no-key", "wrong-key", "empty-key"],
)
def test_key_required(client: TestClient, headers: dict[str, str], status: int) -> None:
    r = client.post("/api/v1/events", json=record(), headers=headers)
    assert r.status_code == status
    assert rows(client) == 0


def test_user_token_cannot_ingest(client: TestClient, users: Any) -> None:
    r = client.post("/api/v1/events", json=record(), headers=users.headers("admin"))
    assert r.status_code == 403


INVALID = [
    ("missing-id", lambda r: r.pop("id"), ["body", "id"]),
    ("bad-state", lambda r: r.update(state="paused"), ["body", "state"]),
    ("naive-time", lambda r: r.update(started_at="2026-11-26T09:00:07"), ["body", "started_at"]),
    ("ended-without-end", lambda r: r.update(state="ended"), ["body"]),
    ("end-before-start", lambda r: r.update(ended_at="2026-11-26T08:00:00+08:00"), ["body"]),
    ("negative-duration", lambda r: r.update(duration_s=-1), ["body", "duration_s"]),
    ("traversal-snapshot", lambda r: r.update(snapshot="../../etc/passwd"), ["body", "snapshot"]),
    ("absolute-clip", lambda r: r.update(clip="/etc/passwd"), ["body", "clip"]),
    ("slash-in-camera", lambda r: r.update(camera="../cam"), ["body", "camera"]),
    ("formula-rule", lambda r: r.update(rule="=HYPERLINK(1)"), ["body", "rule"]),
    ("bad-id", lambda r: r.update(id="a/b"), ["body", "id"]),
    ("extra-field", lambda r: r.update(colour="red"), ["body", "colour"]),
    ("track-ids-not-ints", lambda r: r.update(track_ids=["x"]), ["body", "track_ids", 0]),
]


@pytest.mark.parametrize(("case", "mutate", "loc"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_record_is_422_naming_the_field(
    client: TestClient, case: str, mutate: Any, loc: list[Any]
) -> None:
    rec = record()
    mutate(rec)
    r = client.post("/api/v1/events", json=rec, headers=KEY)
    assert r.status_code == 422, r.text
    locs = [e["loc"] for e in r.json()["detail"]]
    assert loc in locs, locs
    assert rows(client) == 0


@pytest.mark.parametrize(
    ("body", "ctype", "status"),
    [(b"{not json", "application/json", 422), (b"[]", "application/json", 422), (b"id=1", "text/plain", 415)],
    ids=["broken-json", "json-array", "text-plain"],
)
def test_unparseable_bodies(client: TestClient, body: bytes, ctype: str, status: int) -> None:
    r = client.post("/api/v1/events", content=body, headers={**KEY, "Content-Type": ctype})
    assert r.status_code == status


def test_multipart_upload_stores_files_under_camera_folder(client: TestClient, settings: Settings) -> None:
    rec = record()
    r = client.post(
        "/api/v1/events",
        headers=KEY,
        data={"record": json.dumps(rec)},
        files={"snapshot": ("s.jpg", JPEG, "image/jpeg"), "clip": ("c.mp4", MP4, "video/mp4")},
    )
    assert r.status_code == 201, r.text
    snap = settings.evidence_path / "counter-1" / f"{rec['id']}.jpg"
    clip = settings.evidence_path / "counter-1" / f"{rec['id']}.mp4"
    assert snap.read_bytes() == JPEG and clip.read_bytes() == MP4
    row = stored(client, rec["id"])
    assert (
        row is not None
        and row.snapshot == f"counter-1/{rec['id']}.jpg"
        and row.clip == f"counter-1/{rec['id']}.mp4"
    )
    # a later state without files keeps the evidence
    client.post("/api/v1/events", json=ended(rec), headers=KEY)
    row = stored(client, rec["id"])
    assert row is not None and row.state == "ended" and row.snapshot is not None
    leftovers = [p.name for p in snap.parent.iterdir() if p.name.endswith(".part")]
    assert leftovers == []


def test_bad_upload_writes_nothing(client: TestClient, settings: Settings) -> None:
    rec = record()
    r = client.post(
        "/api/v1/events",
        headers=KEY,
        data={"record": json.dumps(rec)},
        files={"snapshot": ("s.jpg", JPEG, "image/jpeg"), "clip": ("c.mp4", b"MZ not a video", "video/mp4")},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "clip"]
    assert rows(client) == 0
    folder = settings.evidence_path / "counter-1"
    assert not folder.exists() or not [p for p in folder.iterdir() if rec["id"] in p.name]


def test_conflicting_upload_leaves_no_files(client: TestClient, settings: Settings) -> None:
    rec = record()
    client.post("/api/v1/events", json=rec, headers=KEY)
    clash = {**rec, "rule": "non_staff_in_area"}
    r = client.post(
        "/api/v1/events",
        headers=KEY,
        data={"record": json.dumps(clash)},
        files={"snapshot": ("s.jpg", JPEG, "image/jpeg")},
    )
    assert r.status_code == 409
    folder = settings.evidence_path / "counter-1"
    assert not folder.exists() or not [p for p in folder.iterdir() if rec["id"] in p.name]


MULTIPART_INVALID = [
    ("no-record", [("snapshot", ("s.jpg", JPEG, "image/jpeg"))], ["body", "record"]),
    ("broken-record", [("record", (None, "{"))], ["body", "record"]),
    ("unknown-field", [("record", (None, json.dumps(record()))), ("extra", (None, "1"))], ["body", "extra"]),
    (
        "snapshot-not-a-file",
        [("record", (None, json.dumps(record()))), ("snapshot", (None, "text"))],
        ["body", "snapshot"],
    ),
    ("record-invalid", [("record", (None, json.dumps(record(state="x"))))], ["body", "record", "state"]),
]


@pytest.mark.parametrize(("case", "parts", "loc"), MULTIPART_INVALID, ids=[c[0] for c in MULTIPART_INVALID])
def test_multipart_validation(client: TestClient, case: str, parts: list[Any], loc: list[str]) -> None:
    r = client.post("/api/v1/events", headers=KEY, files=parts)
    assert r.status_code == 422, r.text
    assert loc in [e["loc"] for e in r.json()["detail"]]
    assert rows(client) == 0


def test_oversized_upload_is_413(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "max_upload_bytes", 50_000)
    rec = record()
    r = client.post(
        "/api/v1/events",
        headers=KEY,
        data={"record": json.dumps(rec)},
        files={"clip": ("c.mp4", MP4, "video/mp4")},
    )
    assert r.status_code == 413
    assert rows(client) == 0


def test_oversized_chunked_upload_is_413(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Content-Length the limit is enforced while the body streams in."""
    monkeypatch.setattr(settings, "max_upload_bytes", 50_000)

    def body() -> Any:
        yield json.dumps(record()).encode()[:10]
        for _ in range(20):
            yield b" " * 10_000

    r = client.post("/api/v1/events", headers={**KEY, "Content-Type": "application/json"}, content=body())
    assert r.status_code == 413
    assert rows(client) == 0


def test_ingest_counters_in_metrics(client: TestClient, users: Any) -> None:
    rec = record()
    client.post("/api/v1/events", json=rec, headers=KEY)
    client.post("/api/v1/events", json=rec, headers=KEY)
    client.post("/api/v1/events", json={"id": "x"}, headers=KEY)
    text = client.get("/metrics", headers=KEY).text
    assert 'tellerwatch_ingest_events_total{result="created"}' in text
    assert 'tellerwatch_ingest_events_total{result="unchanged"}' in text
    assert 'tellerwatch_ingest_events_total{result="invalid"}' in text


def test_concurrent_duplicates_create_one_row(app: Any) -> None:
    """Retries racing each other over real connections: one 'created', the rest acknowledged."""
    rec = record()
    with ThreadServer(app) as server, httpx.Client(base_url=server.url, headers=KEY) as c:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: c.post("/api/v1/events", json=rec), range(16)))
    assert sorted(r.status_code for r in results) == [200] * 15 + [201]
    assert {r.json()["result"] for r in results} == {"created", "unchanged"}
    with app.state.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Violation)) == 1
