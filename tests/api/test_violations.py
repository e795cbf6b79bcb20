"""Reading, filtering, reviewing violations and downloading their evidence."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.settings import Settings
from tests.api.helpers import INGEST_KEY, JPEG, MP4, ended, record

KEY = {"X-API-Key": INGEST_KEY}


def ingest(client: TestClient, rec: dict[str, Any], **files: tuple[str, bytes, str]) -> dict[str, Any]:
    if files:
        r = client.post("/api/v1/events", headers=KEY, data={"record": json.dumps(rec)}, files=files)
    else:
        r = client.post("/api/v1/events", headers=KEY, json=rec)
    assert r.status_code in (200, 201), r.text
    return rec


@pytest.fixture
def seeded(client: TestClient) -> list[dict[str, Any]]:
    recs = [
        record(
            site="site-a",
            camera="counter-1",
            rule="dual_teller",
            started_at="2026-11-26T09:00:00+08:00",
            duration_s=30,
        ),
        ended(
            record(
                site="site-a",
                camera="counter-2",
                rule="unattended_items",
                zone="counter_top",
                started_at="2026-11-26T10:00:00+08:00",
            ),
            ended_at="2026-11-26T10:01:00+08:00",
            duration_s=60,
        ),
        record(
            site="site-b",
            camera="counter-1",
            rule="non_staff_in_area",
            started_at="2026-11-26T11:00:00+08:00",
            duration_s=3,
        ),
        ended(
            record(
                site="site-b", camera="counter-1", rule="dual_teller", started_at="2026-11-27T09:00:00+08:00"
            ),
            ended_at="2026-11-27T09:00:45+08:00",
            duration_s=45,
        ),
    ]
    return [ingest(client, r) for r in recs]


def ids(resp: Any) -> list[str]:
    return [v["id"] for v in resp.json()["items"]]


FILTERS = [
    ("site", {"site": "site-a"}, [1, 0]),
    ("camera", {"camera": "counter-2"}, [1]),
    ("rule", {"rule": "dual_teller"}, [3, 0]),
    ("zone", {"zone": "counter_top"}, [1]),
    ("state", {"state": "ended"}, [3, 1]),
    ("from", {"from": "2026-11-26T10:30:00+08:00"}, [3, 2]),
    ("to", {"to": "2026-11-26T02:00:00Z"}, [0]),
    ("to-inclusive-of-earlier", {"to": "2026-11-26T02:00:01Z"}, [1, 0]),
    ("range", {"from": "2026-11-26T09:30:00+08:00", "to": "2026-11-26T12:00:00+08:00"}, [2, 1]),
    ("date", {"date": "2026-11-27"}, [3]),
    ("combined", {"site": "site-b", "rule": "dual_teller"}, [3]),
    ("sort-duration", {"sort": "duration_s"}, [2, 0, 3, 1]),
    ("sort-duration-desc", {"sort": "-duration_s"}, [1, 3, 0, 2]),
    ("page", {"limit": 2, "offset": 1}, [2, 1]),
]


@pytest.mark.parametrize(("case", "params", "expected"), FILTERS, ids=[f[0] for f in FILTERS])
def test_filters(
    client: TestClient,
    users: Any,
    seeded: list[dict[str, Any]],
    case: str,
    params: dict[str, Any],
    expected: list[int],
) -> None:
    r = client.get("/api/v1/violations", params=params, headers=users.headers("operator"))
    assert r.status_code == 200, r.text
    assert ids(r) == [seeded[i]["id"] for i in expected]
    if case != "page":
        assert r.json()["total"] == len(expected)
    else:
        assert r.json()["total"] == 4


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "colour"},
        {"limit": 0},
        {"limit": 501},
        {"offset": -1},
        {"state": "closed"},
        {"from": "yesterday"},
        {"review_status": "maybe"},
    ],
    ids=["sort", "limit-0", "limit-big", "offset", "state", "from", "review"],
)
def test_bad_query_is_422(client: TestClient, users: Any, params: dict[str, Any]) -> None:
    r = client.get("/api/v1/violations", params=params, headers=users.headers("operator"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][0] == "query"


def test_review_records_who_and_when(client: TestClient, users: Any, seeded: list[dict[str, Any]]) -> None:
    vid = seeded[0]["id"]
    r = client.patch(
        f"/api/v1/violations/{vid}",
        json={"review_status": "false_positive", "note": "a mannequin"},
        headers=users.headers("operator"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["review_status"] == "false_positive" and body["review_note"] == "a mannequin"
    assert body["reviewed_by"] == "op" and body["reviewed_at"]
    # the pipeline's next state of the same violation does not undo the review
    ingest(client, {**seeded[0], "duration_s": 99})
    got = client.get(f"/api/v1/violations/{vid}", headers=users.headers("operator")).json()
    assert got["review_status"] == "false_positive" and got["duration_s"] == 99
    lst = client.get(
        "/api/v1/violations", params={"review_status": "reviewed"}, headers=users.headers("operator")
    )
    assert ids(lst) == [vid]
    lst = client.get(
        "/api/v1/violations", params={"review_status": "unreviewed"}, headers=users.headers("operator")
    )
    assert vid not in ids(lst) and lst.json()["total"] == 3


@pytest.mark.parametrize(
    "body",
    [{}, {"review_status": "deleted"}, {"note": "x" * 2001}, {"review_status": "acknowledged", "by": "me"}],
    ids=["empty", "bad-status", "long-note", "extra"],
)
def test_bad_review_is_422(
    client: TestClient, users: Any, seeded: list[dict[str, Any]], body: dict[str, Any]
) -> None:
    r = client.patch(f"/api/v1/violations/{seeded[0]['id']}", json=body, headers=users.headers("operator"))
    assert r.status_code == 422


def test_unknown_violation_is_404(client: TestClient, users: Any) -> None:
    assert client.get("/api/v1/violations/nope", headers=users.headers("admin")).status_code == 404
    r = client.patch("/api/v1/violations/nope", json={"note": "x"}, headers=users.headers("admin"))
    assert r.status_code == 404


@pytest.fixture
def with_clip(client: TestClient) -> dict[str, Any]:
    return ingest(client, record(), snapshot=("s.jpg", JPEG, "image/jpeg"), clip=("c.mp4", MP4, "video/mp4"))


RANGES = [
    ("first-100", "bytes=0-99", 206, (0, 99)),
    ("middle", "bytes=1000-1999", 206, (1000, 1999)),
    ("open-ended", "bytes=99000-", 206, (99000, len(MP4) - 1)),
    ("suffix", "bytes=-500", 206, (len(MP4) - 500, len(MP4) - 1)),
    ("past-end-clamped", f"bytes=100-{len(MP4) + 1000}", 206, (100, len(MP4) - 1)),
    ("whole-as-range", "bytes=0-", 206, (0, len(MP4) - 1)),
    ("start-beyond", f"bytes={len(MP4)}-", 416, None),
    ("reversed", "bytes=500-100", 416, None),
    ("garbage", "bytes=abc", 416, None),
    ("wrong-unit", "items=0-5", 416, None),
    ("empty-suffix", "bytes=-0", 416, None),
    ("multi-range-whole-file", "bytes=0-1,5-6", 200, None),
]


@pytest.mark.parametrize(("case", "header", "status", "span"), RANGES, ids=[r[0] for r in RANGES])
def test_clip_ranges(
    client: TestClient,
    users: Any,
    with_clip: dict[str, Any],
    case: str,
    header: str,
    status: int,
    span: tuple[int, int] | None,
) -> None:
    r = client.get(
        f"/api/v1/violations/{with_clip['id']}/clip", headers={**users.headers("operator"), "Range": header}
    )
    assert r.status_code == status, r.text
    assert r.headers["accept-ranges"] == "bytes"
    if status == 206:
        assert span is not None
        start, end = span
        assert r.headers["content-range"] == f"bytes {start}-{end}/{len(MP4)}"
        assert r.content == MP4[start : end + 1]
        assert int(r.headers["content-length"]) == end - start + 1
        assert r.headers["content-type"] == "video/mp4"
    elif status == 416:
        assert r.headers["content-range"] == f"bytes */{len(MP4)}"
    else:
        assert r.content == MP4


def test_clip_without_range_and_snapshot(client: TestClient, users: Any, with_clip: dict[str, Any]) -> None:
    r = client.get(f"/api/v1/violations/{with_clip['id']}/clip", headers=users.headers("operator"))
    assert r.status_code == 200 and r.content == MP4 and r.headers["accept-ranges"] == "bytes"
    r = client.get(f"/api/v1/violations/{with_clip['id']}/snapshot", headers=users.headers("operator"))
    assert r.status_code == 200 and r.content == JPEG and r.headers["content-type"] == "image/jpeg"
    got = client.get(f"/api/v1/violations/{with_clip['id']}", headers=users.headers("operator")).json()
    assert got["clip_url"] == f"/api/v1/violations/{with_clip['id']}/clip"


def test_download_answers_with_an_attachment(client: TestClient, users: Any, with_clip: dict[str, Any]) -> None:
    vid = with_clip["id"]
    for kind, body, suffix in (("clip", MP4, ".mp4"), ("snapshot", JPEG, ".jpg")):
        url = f"/api/v1/violations/{vid}/{kind}"
        inline = client.get(url, headers=users.headers("operator"))
        assert inline.headers["content-disposition"] == f'inline; filename="{vid}{suffix}"'
        saved = client.get(url, params={"download": "1"}, headers=users.headers("operator"))
        assert saved.status_code == 200 and saved.content == body
        assert saved.headers["content-disposition"] == f'attachment; filename="{vid}{suffix}"'
        ranged = client.get(url, params={"download": "1"}, headers={**users.headers("operator"), "Range": "bytes=0-9"})
        assert ranged.status_code == 206 and ranged.headers["content-disposition"].startswith("attachment;")
    bad = client.get(f"/api/v1/violations/{vid}/clip", params={"download": "maybe"}, headers=users.headers("operator"))
    assert bad.status_code == 422


def test_missing_evidence_is_404(client: TestClient, users: Any) -> None:
    rec = ingest(client, record())
    assert (
        client.get(f"/api/v1/violations/{rec['id']}/clip", headers=users.headers("operator")).status_code
        == 404
    )


def test_shared_path_evidence_is_served(client: TestClient, users: Any, settings: Settings) -> None:
    """A pipeline on the same box writes evidence/<camera>/<id>.jpg under the shared data dir."""
    rec = record()
    (settings.evidence_path / "counter-7").mkdir(parents=True, exist_ok=True)
    (settings.evidence_path / "counter-7" / f"{rec['id']}.jpg").write_bytes(JPEG)
    ingest(client, {**rec, "camera": "counter-7", "snapshot": f"evidence/counter-7/{rec['id']}.jpg"})
    r = client.get(f"/api/v1/violations/{rec['id']}/snapshot", headers=users.headers("operator"))
    assert r.status_code == 200 and r.content == JPEG


def test_symlink_out_of_evidence_folder_is_404(
    client: TestClient, users: Any, settings: Settings, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(JPEG)
    rec = record()
    (settings.evidence_path / rec["camera"]).mkdir(exist_ok=True)
    link = settings.evidence_path / rec["camera"] / f"{rec['id']}.jpg"
    os.symlink(secret, link)
    ingest(client, {**rec, "snapshot": f"{rec['camera']}/{link.name}"})
    r = client.get(f"/api/v1/violations/{rec['id']}/snapshot", headers=users.headers("operator"))
    assert r.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/violations/..%2F..%2Fetc%2Fpasswd/clip",
        "/api/v1/violations/%2e%2e/snapshot",
        "/api/v1/violations/a%00b/clip",
    ],
    ids=["encoded-slashes", "dot-dot", "nul"],
)
def test_traversal_in_url_finds_nothing(client: TestClient, users: Any, path: str) -> None:
    r = client.get(path, headers=users.headers("admin"))
    assert r.status_code in (404, 422)
    assert b"root:" not in r.content


def test_if_range_and_head(client: TestClient, users: Any, with_clip: dict[str, Any]) -> None:
    """Starlette's FileResponse serves evidence: If-Range with the current ETag keeps the range,
    a stale one answers the whole file."""
    url = f"/api/v1/violations/{with_clip['id']}/clip"
    first = client.get(url, headers=users.headers("operator"))
    etag = first.headers["etag"]
    same = client.get(url, headers={**users.headers("operator"), "Range": "bytes=10-19", "If-Range": etag})
    assert same.status_code == 206 and same.content == MP4[10:20]
    stale = client.get(url, headers={**users.headers("operator"), "Range": "bytes=10-19", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == MP4
