"""The audit trail and the database login limiter, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.audit import AuditLog
from api.models import AuditEntry, LoginAttempt, utcnow
from api.ratelimit import LoginLimiter
from api.settings import Settings
from tests.api.conftest import PASSWORD
from tests.api.helpers import INGEST_KEY, JPEG, MP4, record

KEY = {"X-API-Key": INGEST_KEY}


def trail(client: TestClient, users: Any, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/audit", headers=users.headers("admin"), params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


# ------------------------------------------------------------------------------------ limiter
def test_limiter_counts_atomically_under_concurrency(app: FastAPI) -> None:
    """40 threads attempt at once for one username and address: exactly the limit get through."""
    limiter: LoginLimiter = app.state.login_limiter
    barrier = threading.Barrier(20)

    def attempt(_: int) -> bool:
        barrier.wait(timeout=30)
        with app.state.db.session() as s:
            verdict = limiter.attempt(s, "op", "10.0.0.1")
            s.commit()
            return verdict.allowed

    with ThreadPoolExecutor(20) as pool:
        allowed = list(pool.map(attempt, range(40)))
    assert sum(allowed) == app.state.settings.login_max_failures


def test_limiter_window_refund_and_keys(app: FastAPI) -> None:
    limiter: LoginLimiter = app.state.login_limiter
    s_: Settings = app.state.settings
    with app.state.db.session() as s:
        now = 1_000_000.0
        for _ in range(s_.login_max_failures):
            assert limiter.attempt(s, "Op", "1.2.3.4", now=now).allowed
        over = limiter.attempt(s, "op", "1.2.3.4", now=now + 10)  # names compare case-insensitively
        assert not over.allowed and over.retry_after_s == pytest.approx(s_.login_window_s - 10)
        assert limiter.attempt(s, "op", "5.6.7.8", now=now + 10).allowed  # another address
        assert limiter.attempt(s, "op", "1.2.3.4", now=now + s_.login_window_s + 1).allowed  # new window
        verdict = limiter.attempt(s, "eng", "9.9.9.9", now=now)
        limiter.succeeded(s, verdict.keys)
        counts = {a.key: a.count for a in s.query(LoginAttempt).filter(LoginAttempt.key.in_(verdict.keys))}
        assert counts == {k: 0 for k in verdict.keys}
        assert limiter.forget_expired(s, now=now + 10 * s_.login_window_s) >= 3
        s.commit()


def test_password_spraying_from_one_address_is_limited(client: TestClient, settings: Settings) -> None:
    """Different usernames from one address: the per-address limit stops them."""
    codes = [
        client.post("/api/v1/auth/login", json={"username": f"user{i}", "password": "guess"}).status_code
        for i in range(settings.login_max_failures_ip + 3)
    ]
    assert codes[: settings.login_max_failures_ip] == [401] * settings.login_max_failures_ip
    assert codes[settings.login_max_failures_ip :] == [429] * 3
    # even a real user with the right password, from that address, waits
    assert client.post("/api/v1/auth/login", json={"username": "op", "password": PASSWORD}).status_code == 429


def test_successful_logins_do_not_use_up_the_limit(client: TestClient, settings: Settings) -> None:
    for _ in range(settings.login_max_failures * 3):
        assert client.post("/api/v1/auth/login", json={"username": "op", "password": PASSWORD}).status_code == 200


# -------------------------------------------------------------------------------------- audit
def test_logins_ok_and_failed_are_audited(client: TestClient, users: Any) -> None:
    assert client.post("/api/v1/auth/login", json={"username": "op", "password": PASSWORD}).status_code == 200
    assert client.post("/api/v1/auth/login", json={"username": "op", "password": "nope"}).status_code == 401
    assert client.post("/api/v1/auth/login", json={"username": "ghost", "password": "nope"}).status_code == 401
    rows = trail(client, users)
    seen = [(r["action"], r["user"], r["role"]) for r in reversed(rows)]
    assert seen == [("login", "op", "operator"), ("login_failed", "op", None), ("login_failed", "ghost", None)]
    assert all(r["ip"] == "testclient" for r in rows)


def test_evidence_views_downloads_reviews_exports_zones_and_users_are_audited(
    client: TestClient, users: Any
) -> None:
    rec = record(site="site-a")
    r = client.post("/api/v1/events", headers=KEY, data={"record": json.dumps(rec)},
                    files={"snapshot": ("s.jpg", JPEG, "image/jpeg"), "clip": ("c.mp4", MP4, "video/mp4")})
    assert r.status_code == 201
    vid, head = rec["id"], users.headers("bh_a")
    assert client.get(f"/api/v1/violations/{vid}/clip", headers=head).status_code == 200
    # a player seeking through the clip is one view, not one row per range
    assert client.get(f"/api/v1/violations/{vid}/clip", headers={**head, "Range": "bytes=500-999"}).status_code == 206
    assert client.get(f"/api/v1/violations/{vid}/clip?download=1", headers=head).status_code == 200
    assert client.get(f"/api/v1/violations/{vid}/snapshot", headers=head).status_code == 200
    assert client.get(f"/api/v1/violations/{vid}/snapshot?download=1", headers=head).status_code == 200
    assert client.patch(f"/api/v1/violations/{vid}", headers=head,
                        json={"review_status": "true_positive", "note": "seen"}).status_code == 200
    assert client.get("/api/v1/summaries/daily?date=2026-11-26&format=csv", headers=head).status_code == 200
    assert client.post("/api/v1/audit/print", headers=head, json={"page": "summary", "date": "2026-11-26"}
                       ).status_code == 204
    zones = {"zones": [{"name": "z", "kind": "generic", "polygon": [[0, 0], [1, 0], [1, 1]]}]}
    assert client.put("/api/v1/cameras/counter-1/zones?site=site-a", headers=users.headers("engineer"),
                      json=zones).status_code == 200
    adm = users.headers("admin")
    new = {"username": "temp-op", "password": "long enough pw", "role": "operator"}
    assert client.post("/api/v1/users", headers=adm, json=new).status_code == 201
    assert client.delete("/api/v1/users/temp-op", headers=adm).status_code == 204
    rows = list(reversed(trail(client, users)))
    got = [(r["action"], r["user"], r["site"], r["violation_id"]) for r in rows]
    assert got == [
        ("view_clip", "head-a", "site-a", vid),
        ("download_clip", "head-a", "site-a", vid),
        ("view_snapshot", "head-a", "site-a", vid),
        ("download_snapshot", "head-a", "site-a", vid),
        ("review_violation", "head-a", "site-a", vid),
        ("export_summary_csv", "head-a", "site-a", None),
        ("print_summary", "head-a", "site-a", None),
        ("update_zones", "eng", "site-a", None),
        ("create_user", "adm", None, None),
        ("remove_user", "adm", None, None),
    ]
    assert rows[4]["detail"] == "true_positive: seen" and rows[7]["camera"] == "counter-1"
    assert rows[8]["detail"] == "temp-op (operator)"


def test_audit_filters_pagination_csv_and_access(client: TestClient, users: Any, app: FastAPI) -> None:
    audit: AuditLog = app.state.audit
    base = utcnow() - timedelta(days=10)
    with app.state.db.session() as s:
        for i in range(30):
            audit.add(s, None, "view_clip", username=f"u{i % 3}", role="operator",
                      site="site-a" if i % 2 else "site-b", violation_id=f"v{i}")
            s.flush()
        for i, entry in enumerate(s.query(AuditEntry).order_by(AuditEntry.id)):
            entry.at = base + timedelta(hours=i)
        s.commit()
    adm = users.headers("admin")
    page = client.get("/api/v1/audit?limit=7&offset=7", headers=adm).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (30, 7, 7, 7)
    assert [i["violation_id"] for i in page["items"]] == [f"v{n}" for n in range(22, 15, -1)]
    assert {i["user"] for i in trail(client, users, user="u1")} == {"u1"}
    assert len(trail(client, users, user="u1")) == 10
    assert {i["site"] for i in trail(client, users, site="site-a")} == {"site-a"}
    assert trail(client, users, action="login") == []
    frm, to = (base + timedelta(hours=5)).isoformat(), (base + timedelta(hours=8)).isoformat()
    assert [i["violation_id"] for i in trail(client, users, **{"from": frm, "to": to})] == ["v7", "v6", "v5"]
    r = client.get("/api/v1/audit?format=csv&user=u0", headers=adm)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0] == ["at", "user", "role", "ip", "action", "site", "camera", "violation_id", "detail"]
    assert len(table) == 11 and {row[1] for row in table[1:]} == {"u0"}
    # the export itself is audited
    assert trail(client, users, action="export_audit_csv")[0]["user"] == "adm"
    for who in ("operator", "engineer", "bh_a", "key"):
        assert client.get("/api/v1/audit", headers=users.headers(who)).status_code == 403, who
    assert client.get("/api/v1/audit").status_code == 401


def test_audit_rows_older_than_the_retention_are_pruned(app: FastAPI) -> None:
    audit = AuditLog(180)
    with app.state.db.session() as s:
        audit.add(s, None, "login", username="old")
        audit.add(s, None, "login", username="recent")
        s.flush()
        for e in s.query(AuditEntry):
            e.at = utcnow() - timedelta(days=181 if e.username == "old" else 179)
        s.commit()
        assert audit.prune(s) == 1
        s.commit()
        assert [e.username for e in s.query(AuditEntry)] == ["recent"]
    with pytest.raises(ValidationError, match="180"):
        Settings(env="dev", audit_retention_days=90)
