"""Zones (editor and pipelines), the latest camera frame, and pipeline metrics."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.settings import Settings
from tests.api.helpers import INGEST_KEY, JPEG, record

KEY = {"X-API-Key": INGEST_KEY}
TELLER = {"name": "teller_area", "kind": "teller_area", "polygon": [[0, 0.45], [1, 0.45], [1, 1], [0, 1]]}
COUNTER = {
    "name": "counter_top",
    "kind": "counter",
    "polygon": [[0.1, 0.4], [0.9, 0.4], [0.9, 0.5], [0.1, 0.5]],
}


def test_put_then_get_zones(client: TestClient, users: Any) -> None:
    eng = users.headers("engineer")
    r = client.put(
        "/api/v1/cameras/counter-1/zones", params={"site": "site-a"}, json={"zones": [TELLER]}, headers=eng
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1 and r.json()["updated_by"] == "eng"
    r = client.put("/api/v1/cameras/counter-1/zones", json={"zones": [TELLER, COUNTER]}, headers=eng)
    assert r.json()["version"] == 2
    got = client.get("/api/v1/cameras/counter-1/zones", headers=KEY).json()  # a pipeline polling
    assert [z["name"] for z in got["zones"]] == ["teller_area", "counter_top"]
    assert got["zones"][1]["polygon"] == COUNTER["polygon"] and got["zones"][1]["kind"] == "counter"


BAD_ZONES = [
    (
        "outside-unit-square",
        [{**TELLER, "polygon": [[0, 0], [2, 0], [1, 1]]}],
        ["body", "zones", 0, "polygon"],
    ),
    ("two-points", [{**TELLER, "polygon": [[0, 0], [1, 1]]}], ["body", "zones", 0, "polygon"]),
    ("collinear", [{**TELLER, "polygon": [[0, 0], [0.5, 0.5], [1, 1]]}], ["body", "zones", 0, "polygon"]),
    ("bad-kind", [{**TELLER, "kind": "vault"}], ["body", "zones", 0, "kind"]),
    ("bad-name", [{**TELLER, "name": "no spaces allowed"}], ["body", "zones", 0, "name"]),
    ("unknown-key", [{**TELLER, "colour": "red"}], ["body", "zones", 0, "colour"]),
    ("duplicate-names", [TELLER, TELLER], ["body"]),
]


@pytest.mark.parametrize(("case", "zones", "loc"), BAD_ZONES, ids=[b[0] for b in BAD_ZONES])
def test_bad_zones_are_422_with_the_path(
    client: TestClient, users: Any, case: str, zones: list[Any], loc: list[Any]
) -> None:
    r = client.put(
        "/api/v1/cameras/counter-1/zones",
        params={"site": "site-a"},
        json={"zones": zones},
        headers=users.headers("engineer"),
    )
    assert r.status_code == 422, r.text
    assert loc in [e["loc"] for e in r.json()["detail"]]


def test_unknown_and_ambiguous_cameras(client: TestClient, users: Any) -> None:
    eng = users.headers("engineer")
    assert client.get("/api/v1/cameras/counter-1/zones", headers=eng).status_code == 404
    r = client.put("/api/v1/cameras/counter-1/zones", json={"zones": [TELLER]}, headers=eng)
    assert r.status_code == 404 and "?site=" in r.json()["detail"]
    for site in ("site-a", "site-b"):
        client.put(
            "/api/v1/cameras/counter-1/zones", params={"site": site}, json={"zones": [TELLER]}, headers=eng
        )
    r = client.get("/api/v1/cameras/counter-1/zones", headers=eng)
    assert r.status_code == 409 and "site-a, site-b" in r.json()["detail"]
    assert (
        client.get("/api/v1/cameras/counter-1/zones", params={"site": "site-b"}, headers=eng).json()["site"]
        == "site-b"
    )
    # a branch head's own site is implied, so the same id is not ambiguous for them
    assert (
        client.get("/api/v1/cameras/counter-1/zones", headers=users.headers("bh_a")).json()["site"]
        == "site-a"
    )
    cams = client.get("/api/v1/cameras", headers=users.headers("bh_b")).json()
    assert [(c["site"], c["camera"]) for c in cams] == [("site-b", "counter-1")]


def test_frame_upload_and_camera_snapshot(client: TestClient, users: Any, settings: Settings) -> None:
    h = {**KEY, "Content-Type": "image/jpeg"}
    assert (
        client.get("/api/v1/cameras/counter-1/snapshot", headers=users.headers("engineer")).status_code == 404
    )
    assert (
        client.post(
            "/api/v1/cameras/counter-1/frame", params={"site": "site-a"}, content=JPEG, headers=h
        ).status_code
        == 204
    )
    r = client.get("/api/v1/cameras/counter-1/snapshot", headers=users.headers("engineer"))
    assert r.status_code == 200 and r.content == JPEG and r.headers["cache-control"] == "no-store"
    # the zones body says when the frame came, so the zone editor asks for it only when there is one
    zones = client.get("/api/v1/cameras/counter-1/zones", headers=users.headers("engineer")).json()
    assert zones["frame_at"] is not None and zones["live_at"] is None
    cams = client.get("/api/v1/cameras", headers=users.headers("engineer")).json()
    assert cams[0]["has_frame"] is True and cams[0]["frame_at"]
    # not a JPEG, no site, too large
    assert (
        client.post(
            "/api/v1/cameras/counter-1/frame", params={"site": "site-a"}, content=b"GIF89a", headers=h
        ).status_code
        == 422
    )
    r = client.post("/api/v1/cameras/counter-1/frame", content=JPEG, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "site"]
    big = JPEG + b"\0" * (settings.max_frame_bytes + 1)
    assert (
        client.post(
            "/api/v1/cameras/counter-1/frame", params={"site": "site-a"}, content=big, headers=h
        ).status_code
        == 413
    )
    assert client.post(
        "/api/v1/cameras/..%2Fx/frame", params={"site": "site-a"}, content=JPEG, headers=h
    ).status_code in (404, 422)


def test_pipeline_metrics_reach_prometheus(client: TestClient, users: Any) -> None:
    report = {
        "site": "site-a",
        "camera": "counter-1",
        "interval_s": 10,
        "frames": 250,
        "analysed": 50,
        "dropped": 2,
        "fps": 4.9,
        "stages": {"detect": [0.03, 0.04, 0.2], "track": [0.001]},
        "zones": {"teller_area": {"persons": 2, "staff": 1, "items": 0}},
    }
    assert client.post("/api/v1/metrics/pipeline", json=report, headers=KEY).status_code == 204
    text = client.get("/metrics", headers={"Authorization": f"Bearer {INGEST_KEY}"}).text  # Prometheus' way
    assert 'tellerwatch_camera_fps{camera="counter-1",site="site-a"} 4.9' in text
    assert (
        'tellerwatch_stage_latency_seconds_count{camera="counter-1",site="site-a",stage="detect"} 3.0' in text
    )
    assert 'tellerwatch_camera_frames_dropped_total{camera="counter-1",site="site-a"} 2.0' in text
    assert (
        'tellerwatch_zone_count{camera="counter-1",kind="staff",site="site-a",zone="teller_area"} 1.0' in text
    )
    zones = client.get(
        "/api/v1/cameras/counter-1/zones", params={"site": "site-a"}, headers=users.headers("engineer")
    )
    assert zones.status_code == 404  # metrics alone do not register a camera ...
    client.post("/api/v1/events", json=record(), headers=KEY)  # ... a violation (or frame) does
    live = client.get("/api/v1/cameras/counter-1/zones", headers=users.headers("engineer")).json()["live"]
    assert live == {"teller_area": {"persons": 2, "staff": 1, "items": 0}}


@pytest.mark.parametrize(
    "patch",
    [
        {"stages": {"Detect Stage": [0.1]}},
        {"stages": {"detect": [-1]}},
        {"stages": {"detect": [0.1] * 1001}},
        {"site": "a/b"},
        {"interval_s": 0},
        {"status": "exploded"},
        {"zones": {"z": {"persons": -1}}},
    ],
    ids=["stage-name", "negative-latency", "too-many-samples", "site", "interval", "status", "zone-count"],
)
def test_bad_pipeline_metrics_are_422(client: TestClient, patch: dict[str, Any]) -> None:
    report = {"site": "site-a", "camera": "counter-1", "interval_s": 10, **patch}
    assert client.post("/api/v1/metrics/pipeline", json=report, headers=KEY).status_code == 422


def test_camera_list_carries_the_reported_status(client: TestClient, users: Any) -> None:
    """A camera that never delivered a frame is listed from its status reports alone (operators must
    see it is down); the latest report wins; a branch head sees only their own site's cameras."""
    client.post("/api/v1/events", json=record(site="site-a", camera="counter-1"), headers=KEY)
    for site, camera, status in (("site-a", "counter-1", "reconnecting"), ("site-a", "counter-1", "up"),
                                 ("site-a", "mute", "down"), ("site-b", "far", "down")):
        body = {"site": site, "camera": camera, "interval_s": 5, "status": status}
        assert client.post("/api/v1/metrics/pipeline", json=body, headers=KEY).status_code == 204
    plain = client.get("/api/v1/cameras", headers=users.headers("operator")).json()
    assert [(c["camera"], c["status"]) for c in plain] == [("counter-1", "up")]  # the zone editor's list
    listed = client.get("/api/v1/cameras?reported=true", headers=users.headers("operator")).json()
    cams = {(c["site"], c["camera"]): c for c in listed}
    assert cams[("site-a", "counter-1")]["status"] == "up" and cams[("site-a", "counter-1")]["status_at"]
    assert cams[("site-a", "mute")]["status"] == "down" and cams[("site-a", "mute")]["has_frame"] is False
    assert cams[("site-b", "far")]["status"] == "down"
    own = client.get("/api/v1/cameras?reported=true", headers=users.headers("bh_a")).json()
    assert {(c["site"], c["camera"]) for c in own} == {("site-a", "counter-1"), ("site-a", "mute")}


def test_clock_drift_reaches_metrics_and_the_camera_list(client: TestClient, users: Any) -> None:
    """A camera whose clock is 75 s ahead of the box is flagged (bank inspections allow 60 s); one
    10 s behind is reported but not flagged; one whose stream says nothing has no figure."""
    for camera, drift in (("ahead", 75.0), ("close", -10.0), ("mute", None)):
        body: dict[str, Any] = {"site": "site-a", "camera": camera, "interval_s": 5, "status": "up"}
        if drift is not None:
            body["clock_drift_s"] = drift
        assert client.post("/api/v1/metrics/pipeline", json=body, headers=KEY).status_code == 204
    text = client.get("/metrics", headers={"Authorization": f"Bearer {INGEST_KEY}"}).text
    assert 'tellerwatch_camera_clock_drift_seconds{camera="ahead",site="site-a"} 75.0' in text
    assert 'tellerwatch_camera_clock_drift_seconds{camera="close",site="site-a"} -10.0' in text
    assert 'tellerwatch_camera_clock_drift_seconds{camera="mute"' not in text
    listed = client.get("/api/v1/cameras?reported=true", headers=users.headers("operator")).json()
    cams = {c["camera"]: (c["clock_drift_s"], c["clock_drift_alarm"]) for c in listed}
    assert cams == {"ahead": (75.0, True), "close": (-10.0, False), "mute": (None, False)}


def test_a_zones_version_beyond_a_database_integer_is_422(client: TestClient) -> None:
    """Found by the fuzz test: 2**63 overflowed SQLite's INTEGER (PostgreSQL's holds 32 bits) and
    answered 500."""
    body: dict[str, Any] = {"site": "site-a", "camera": "cam", "interval_s": 5, "zones_version": 2**63}
    assert client.post("/api/v1/metrics/pipeline", json=body, headers=KEY).status_code == 422
    body["zones_version"] = 2**31
    assert client.post("/api/v1/metrics/pipeline", json=body, headers=KEY).status_code == 422
    body["zones_version"] = 2**31 - 1
    assert client.post("/api/v1/metrics/pipeline", json=body, headers=KEY).status_code == 204
