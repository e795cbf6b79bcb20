"""API trust, on SQLite and PostgreSQL: ingest keys bound to sites, evidence pointers confined to
their own violation, strict input at the door, and lists that survive a bad stored row."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.cli_support import warn_bare_keys
from api.models import Violation
from api.settings import Settings
from tests.api.helpers import INGEST_KEY, JPEG, MP4, ended, record

KEY_A = "site-a-key-0123456789abcdef"
KEY_B = "site-b-key-0123456789abcdef"
BARE = {"X-API-Key": INGEST_KEY}
A = {"X-API-Key": KEY_A}
B = {"X-API-Key": KEY_B}


@pytest.fixture
def bound(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(settings, "ingest_keys", f"{INGEST_KEY},site-a:{KEY_A}, site-b:{KEY_B}")
    return settings


def count(client: TestClient) -> int:
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        return int(s.scalar(select(func.count()).select_from(Violation)) or 0)


def stored(client: TestClient, vid: str) -> Violation | None:
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        return s.get(Violation, vid)


# ------------------------------------------------------------------------------- site-bound keys
def test_ingest_key_entries_parse_and_bare_keys_are_counted(caplog: pytest.LogCaptureFixture) -> None:
    s = Settings(env="dev", ingest_keys=f"site-a:{KEY_A},{INGEST_KEY}, branch-9.x:{KEY_B}")
    assert [(e.site, e.key) for e in s.ingest_key_entries] == [
        ("site-a", KEY_A),
        (None, INGEST_KEY),
        ("branch-9.x", KEY_B),
    ]
    with caplog.at_level(logging.WARNING, logger="tellerwatch.api"):
        assert warn_bare_keys(s) == 1
    assert "1 bare key(s)" in caplog.text
    assert warn_bare_keys(Settings(env="dev", ingest_keys=f"site-a:{KEY_A}")) == 0


@pytest.mark.parametrize("keys", ["bad site:" + KEY_A, ":" + KEY_A, "site-a:"], ids=["space", "no-site", "no-key"])
def test_malformed_site_key_entries_are_refused(keys: str) -> None:
    with pytest.raises(ValueError, match="SITE:KEY"):
        Settings(env="dev", ingest_keys=keys)


def test_site_key_writes_its_own_site_only(client: TestClient, bound: Settings) -> None:
    own = record(site="site-a")
    assert client.post("/api/v1/events", json=own, headers=A).status_code == 201
    other = record(site="site-b")
    r = client.post("/api/v1/events", json=other, headers=A)
    assert r.status_code == 403 and "site-a" in r.json()["detail"]
    r = client.post("/api/v1/events", headers=A, data={"record": json.dumps(other)},
                    files={"snapshot": ("s.jpg", JPEG, "image/jpeg")})
    assert r.status_code == 403
    assert stored(client, other["id"]) is None and count(client) == 1
    # a bare key still writes any site
    assert client.post("/api/v1/events", json=other, headers=BARE).status_code == 201


def test_site_key_cannot_rewrite_another_sites_violation_id(client: TestClient, bound: Settings) -> None:
    rec = record(site="site-a")
    assert client.post("/api/v1/events", json=rec, headers=A).status_code == 201
    # site-b's key claims the id for its own site (and would end it with its own evidence)
    hijack = ended({**rec, "site": "site-b"})
    for body in ({"json": hijack}, {"data": {"record": json.dumps(hijack)},
                                    "files": {"clip": ("c.mp4", MP4, "video/mp4")}}):
        r = client.post("/api/v1/events", headers=B, **body)  # type: ignore[arg-type]
        assert r.status_code == 403, r.text
    row = stored(client, rec["id"])
    assert row is not None and (row.site, row.state) == ("site-a", "open")
    # the same record under site-a's own site name is still refused to site-b's key
    assert client.post("/api/v1/events", json=ended(rec), headers=B).status_code == 403


def test_site_key_camera_status_frames_and_zones_are_its_own_site(client: TestClient, bound: Settings) -> None:
    metrics = {"site": "site-b", "camera": "counter-1", "interval_s": 5, "frames": 10, "analysed": 10}
    assert client.post("/api/v1/metrics/pipeline", json=metrics, headers=A).status_code == 403
    assert client.post("/api/v1/metrics/pipeline", json={**metrics, "site": "site-a"}, headers=A).status_code == 204
    jpeg = {"content": JPEG, "headers": {**A, "Content-Type": "image/jpeg"}}
    assert client.post("/api/v1/cameras/counter-1/frame?site=site-b", **jpeg).status_code == 403  # type: ignore[arg-type]
    assert client.post("/api/v1/cameras/counter-1/frame?site=site-a", **jpeg).status_code == 204  # type: ignore[arg-type]
    assert client.post("/api/v1/events", json=record(site="site-b"), headers=BARE).status_code == 201
    assert client.get("/api/v1/cameras/counter-1/zones?site=site-b", headers=A).status_code == 403
    # without ?site= a bound key means its own site, even though counter-1 exists at both
    r = client.get("/api/v1/cameras/counter-1/zones", headers=A)
    assert r.status_code == 200 and r.json()["site"] == "site-a"
    # zone edits are for people: every key is refused
    assert client.put("/api/v1/cameras/counter-1/zones?site=site-a", json={"zones": []}, headers=A).status_code == 403


# ------------------------------------------------------------------------------ evidence pointers
@pytest.mark.parametrize("field", ["snapshot", "clip", "clip_annotated"])
def test_evidence_pointers_name_the_violations_own_file(client: TestClient, users: Any, field: str) -> None:
    victim = record(site="site-a")
    r = client.post("/api/v1/events", headers=BARE, data={"record": json.dumps(victim)},
                    files={"snapshot": ("s.jpg", JPEG, "image/jpeg"), "clip": ("c.mp4", MP4, "video/mp4")})
    assert r.status_code == 201
    suffix = {"snapshot": ".jpg", "clip": ".mp4", "clip_annotated": ".annotated.mp4"}[field]
    attacker = record(site="site-b")
    for pointer in (f"counter-1/{victim['id']}{suffix}", f"evidence/counter-1/{victim['id']}{suffix}",
                    f"site-a/counter-1/{attacker['id']}{suffix}", f"other-cam/{attacker['id']}{suffix}",
                    f"counter-1/{attacker['id']}.txt", f"counter-1/x/{attacker['id']}{suffix}"):
        rec = {**attacker, "details": {"clip_annotated": pointer}} if field == "clip_annotated" else {
            **attacker, field: pointer}
        r = client.post("/api/v1/events", headers=BARE, json=rec)
        assert r.status_code == 422, (pointer, r.text)
        assert "own file" in json.dumps(r.json())
    for pointer in (f"counter-1/{attacker['id']}{suffix}", f"evidence/site-b/counter-1/{attacker['id']}{suffix}"):
        rec = {**attacker, "details": {"clip_annotated": pointer}} if field == "clip_annotated" else {
            **attacker, field: pointer}
        assert client.post("/api/v1/events", headers=BARE, json=rec).status_code in (200, 201), pointer


def test_branch_head_never_gets_another_sites_clip_from_an_old_row(client: TestClient, users: Any) -> None:
    """A row stored before pointers were checked, pointing at site-a's files, serves nothing."""
    victim = record(site="site-a")
    client.post("/api/v1/events", headers=BARE, data={"record": json.dumps(victim)},
                files={"snapshot": ("s.jpg", JPEG, "image/jpeg"), "clip": ("c.mp4", MP4, "video/mp4")})
    thief = record(site="site-b")
    assert client.post("/api/v1/events", headers=BARE, json=thief).status_code == 201
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        row = s.get(Violation, thief["id"])
        assert row is not None
        row.clip = f"counter-1/{victim['id']}.mp4"
        row.snapshot = f"evidence/counter-1/{victim['id']}.jpg"
        row.details = {"clip_annotated": f"counter-1/{victim['id']}.mp4"}
        s.commit()
    for route in ("clip", "snapshot", "clip/annotated"):
        r = client.get(f"/api/v1/violations/{thief['id']}/{route}", headers=users.headers("bh_b"))
        assert r.status_code == 404 and r.content[:4] != MP4[:4], route
        # and site-a's own head still gets the real one
    assert client.get(f"/api/v1/violations/{victim['id']}/clip", headers=users.headers("bh_a")).content == MP4
    assert client.get(f"/api/v1/violations/{victim['id']}/clip", headers=users.headers("bh_b")).status_code == 404


# --------------------------------------------------------------------------------- strict input
def raw_record(**replace: str) -> str:
    """The record as JSON text with some values replaced by raw (possibly non-JSON) text."""
    rec = record()
    text = json.dumps(rec)
    for key, raw in replace.items():
        text = text.replace(f'"{key}": {json.dumps(rec[key])}', f'"{key}": {raw}', 1)
    return text


def nested(depth: int) -> str:
    return "[" * (depth - 1) + "]" * (depth - 1)


STRICT_CASES = [
    ("nan-duration", raw_record(duration_s="NaN"), "NaN"),
    ("infinity-duration", raw_record(duration_s="Infinity"), "Infinity"),
    ("minus-infinity-details", raw_record(details='{"x": -Infinity}'), "Infinity"),
    ("huge-number-duration", raw_record(duration_s="1e999"), "NaN and Infinity"),
    ("negative-duration", raw_record(duration_s="-1"), "duration_s"),
    ("lone-surrogate-camera", raw_record(camera='"cam\\ud800"'), "surrogate"),
    ("lone-surrogate-details-key", raw_record(details='{"\\udfff": 1}'), "surrogate"),
    ("nul-zone", raw_record(zone='"teller\\u0000area"'), "NUL"),
    ("nul-details", raw_record(details='{"note": "a\\u0000b"}'), "NUL"),
    ("nesting-33", raw_record(details='{"x": ' + nested(32) + "}"), "nested deeper than 32"),
    ("nesting-100000", raw_record(details='{"x": ' + "[" * 100_000 + "]" * 100_000 + "}"), "nested deeper"),
    ("details-over-64k", raw_record(details=json.dumps({"blob": "x" * 70_000})), "at most 65536"),
    ("year-1999", raw_record(started_at='"1999-12-31T23:59:59+00:00"'), "2000 and 2100"),
    ("year-2100", raw_record(started_at='"2100-01-01T00:00:00+00:00"'), "2000 and 2100"),
    ("year-9999-east", raw_record(started_at='"9999-12-31T23:59:59-12:00"'), "2000 and 2100"),
    ("invalid-utf8", b'{"id": "\xed\xa0\x80"}', None),
]


@pytest.mark.parametrize(("name", "body", "says"), STRICT_CASES, ids=[c[0] for c in STRICT_CASES])
@pytest.mark.parametrize("form", ["json", "multipart"])
def test_hostile_records_are_refused_with_a_plain_4xx(
    client: TestClient, name: str, body: str | bytes, says: str | None, form: str
) -> None:
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if form == "json":
        r = client.post("/api/v1/events", headers={**BARE, "Content-Type": "application/json"}, content=raw)
    else:
        r = client.post("/api/v1/events", headers=BARE, files={"record": (None, raw)})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    # the answer is JSON a strict parser reads (no NaN echoed back, no surrogate written out)
    detail = json.loads(r.content.decode("utf-8"), parse_constant=lambda c: pytest.fail(f"{c} in 422 body"))
    if says is not None:
        assert says in json.dumps(detail, ensure_ascii=False), detail
    assert count(client) == 0


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("GET", "/api/v1/violations?camera=a%00b", {}),
        ("GET", "/api/v1/violations?camera=%ED%A0%80", {}),
        ("GET", "/api/v1/violations?site=%C0%80", {}),
        ("GET", "/api/v1/violations/a%00b", {}),
        ("GET", "/api/v1/summaries/daily?site=x%00", {}),
        ("POST", "/api/v1/auth/login", {"json": {"username": "op\x00", "password": "x"}}),
        ("POST", "/api/v1/auth/login", {"content": b'{"username": "op", "password": "\\ud800"}'}),
        ("POST", "/api/v1/auth/login", {"data": {"username": "op\x00", "password": "x"}}),
        ("POST", "/api/v1/auth/login", {"files": {"username": (None, b"op\x00"), "password": (None, b"x")}}),
        ("POST", "/api/v1/auth/login", {"content": b'{"username": "op", "password": NaN}'}),
        ("PATCH", "/api/v1/violations/x", {"content": b'{"note": "a\\u0000b"}'}),
        ("PUT", "/api/v1/cameras/counter-1/zones?site=site-a",
         {"content": b'{"zones": [{"name": "z", "kind": "generic", "polygon": [[0, 0], [NaN, 1], [1, 1]]}]}'}),
        ("POST", "/api/v1/users", {"content": b'{"username": "x", "password": "\\udc00\\udc00\\udc00\\udc00xxxx",'
                                              b' "role": "operator"}'}),
        ("POST", "/api/v1/metrics/pipeline",
         {"content": b'{"site": "s", "camera": "c", "interval_s": Infinity}', "key": True}),
        ("POST", "/api/v1/metrics/pipeline",
         {"content": b'{"site": "s", "camera": "c", "interval_s": 5, "stages": {"x": [NaN]}}', "key": True}),
        ("GET", "/api/v1/violations?from=0001-01-01T00:00:00%2B00:01", {}),
        ("GET", "/api/v1/violations?to=9999-12-31T23:59:59-12:00", {}),
        ("GET", "/api/v1/audit?to=9999-12-31T23:59:59-12:00", {}),
        ("GET", "/api/v1/summaries/daily?date=9999-12-31&period=month", {}),
    ],
    ids=["query-nul", "query-surrogate", "query-overlong", "path-nul", "summary-nul", "login-json-nul",
         "login-surrogate", "login-form-nul", "login-multipart-nul", "login-nan", "review-nul", "zones-nan",
         "user-surrogate", "metrics-infinity", "metrics-nan-sample", "list-year-1", "list-year-9999",
         "audit-year-9999", "summary-year-9999"],
)
def test_every_route_refuses_hostile_input(client: TestClient, users: Any, method: str, url: str,
                                           kwargs: dict[str, Any]) -> None:
    kwargs = dict(kwargs)
    headers = BARE if kwargs.pop("key", False) else users.headers("admin")
    if "content" in kwargs:
        headers = {**headers, "Content-Type": "application/json"}
    r = client.request(method, url, headers=headers, **kwargs)
    assert r.status_code in (400, 404, 422), (r.status_code, r.text[:300])
    json.loads(r.content.decode("utf-8"), parse_constant=lambda c: pytest.fail(c))


def test_refusal_body_never_echoes_a_value_json_cannot_carry(client: TestClient, users: Any) -> None:
    """A float query parameter given 'nan' used to be echoed into the 422 body, which then failed
    to render (500)."""
    r = client.get("/api/v1/violations?limit=nan", headers=users.headers("operator"))
    assert r.status_code == 422
    json.loads(r.text, parse_constant=lambda c: pytest.fail(c))


# ---------------------------------------------------------------------- bad rows already stored
def test_one_bad_stored_row_does_not_break_the_list(client: TestClient, users: Any) -> None:
    good = record()
    assert client.post("/api/v1/events", headers=BARE, json=good).status_code == 201
    bad = record()
    assert client.post("/api/v1/events", headers=BARE, json=bad).status_code == 201
    sqlite = client.app.state.db.engine.dialect.name == "sqlite"  # type: ignore[attr-defined]
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        row = s.get(Violation, bad["id"])
        assert row is not None
        row.started_at = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
        row.local_date = date(9999, 12, 31)
        row.utc_offset_min = 8 * 60
        if sqlite:  # PostgreSQL's json type refuses NaN and lone surrogates itself
            row.details = {"x": float("inf"), "y": "\ud800"}
        else:  # SQLite stores a NaN REAL as NULL, which the column refuses
            row.duration_s = float("nan")
        s.commit()
    h = users.headers("operator")
    r = client.get("/api/v1/violations?limit=500", headers=h)
    assert r.status_code == 200, r.text
    listed = {v["id"]: v for v in json.loads(r.text, parse_constant=lambda c: pytest.fail(c))["items"]}
    assert set(listed) == {good["id"], bad["id"]}
    if sqlite:
        assert listed[bad["id"]]["details"]["x"] is None
    else:
        assert listed[bad["id"]]["duration_s"] == 0.0
    assert client.get(f"/api/v1/violations/{bad['id']}", headers=h).status_code == 200
    # a review of the bad row publishes to the live stream; that must render too
    r = client.patch(f"/api/v1/violations/{bad['id']}", headers=h, json={"review_status": "acknowledged"})
    assert r.status_code == 200, r.text
    # a summary date outside the years records may carry is refused; the latest day skips the bad row
    assert client.get("/api/v1/summaries/daily?date=9999-12-31", headers=h).status_code == 422
    latest = client.get("/api/v1/summaries/daily?period=week", headers=h)
    assert latest.status_code == 200 and latest.json()["date"] < "2100", latest.text
