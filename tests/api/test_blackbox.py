"""The API as a separate process, driven over HTTP the way a pipeline and an operator use it.

Runs once per database. The server is configured only through ``TELLERWATCH_*`` variables, in
production mode (real secret, memory-hard hashing), and must never print a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api import cli_support
from tests.api.helpers import JPEG, MP4, ended, free_port, record, register_site

ROOT = Path(__file__).resolve().parents[2]
KEY = "blackbox-ingest-key-" + uuid.uuid4().hex
PW = "blackbox password 1"


@pytest.fixture
def server(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    port = free_port()
    env = {
        "TELLERWATCH_ENV": "production",
        "TELLERWATCH_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "TELLERWATCH_DATABASE_URL": database_url,
        "TELLERWATCH_DATA_DIR": str(tmp_path / "data"),
        "TELLERWATCH_INGEST_KEYS": KEY,
        "TELLERWATCH_MAX_UPLOAD_BYTES": "200000",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    tag = uuid.uuid4().hex[:6]
    names = {"op": f"op-{tag}", "head": f"head-{tag}"}
    sites = {"a": f"bb-a-{tag}", "b": f"bb-b-{tag}"}
    cli_support.users_add(names["op"], "operator", None, PW)
    register_site(sites["b"])  # as the branch box's first report would
    cli_support.users_add(names["head"], "branch_head", sites["b"], PW)
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "api.app:create_app_from_env",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--timeout-graceful-shutdown",
                "2",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start:\n{log.read_text()}")
                time.sleep(0.1)
            yield {"url": url, "names": names, "sites": sites, "log": log}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]


def test_pipeline_and_operator_session(server: dict[str, Any]) -> None:
    url, names, sites = server["url"], server["names"], server["sites"]
    pipe = httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=30)
    anon = httpx.Client(base_url=url, timeout=30)

    # -- pipeline: keys, idempotency, ordering, validation, uploads
    a1 = record(site=sites["a"], started_at="2026-11-26T09:00:00+08:00", duration_s=4)
    a2 = record(
        site=sites["a"],
        camera="counter-2",
        rule="unattended_items",
        zone="counter_top",
        started_at="2026-11-26T14:10:00+08:00",
        duration_s=20,
    )
    b1 = record(site=sites["b"], started_at="2026-11-26T10:20:00+08:00", duration_s=8)
    assert anon.post("/api/v1/events", json=a1).status_code == 401
    assert anon.post("/api/v1/events", json=a1, headers={"X-API-Key": "nope-" + KEY}).status_code == 401
    assert pipe.post("/api/v1/events", json=a1).status_code == 201
    assert pipe.post("/api/v1/events", json=a1).json()["result"] == "unchanged"
    r = pipe.post(
        "/api/v1/events",
        data={"record": json.dumps(ended(a1, "2026-11-26T09:00:30+08:00", 30))},
        files={"snapshot": ("s.jpg", JPEG, "image/jpeg"), "clip": ("c.mp4", MP4, "video/mp4")},
    )
    assert (r.status_code, r.json()["result"]) == (200, "updated"), r.text
    assert pipe.post("/api/v1/events", json=a1).json()["result"] == "stale"
    assert pipe.post("/api/v1/events", json=a2).status_code == 201
    assert pipe.post("/api/v1/events", json=b1).status_code == 201
    bad = pipe.post("/api/v1/events", json={**record(site=sites["a"]), "duration_s": "long"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "duration_s"]
    trav = pipe.post("/api/v1/events", json=record(site=sites["a"], clip="../../../../etc/passwd"))
    assert trav.status_code == 422 and trav.json()["detail"][0]["loc"] == ["body", "clip"]
    big = pipe.post(
        "/api/v1/events",
        data={"record": json.dumps(record(site=sites["a"]))},
        files={"clip": ("c.mp4", MP4 * 3, "video/mp4")},
    )
    assert big.status_code == 413

    # -- operator: login, filters, review, clip, daily CSV
    login = anon.post("/api/v1/auth/login", json={"username": names["op"], "password": PW})
    assert login.status_code == 200, login.text
    op = httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {login.json()['access_token']}"}, timeout=30
    )
    listed = op.get("/api/v1/violations", params={"site": sites["a"]}).json()
    assert listed["total"] == 2 and [v["id"] for v in listed["items"]] == [a2["id"], a1["id"]]
    only = op.get(
        "/api/v1/violations", params={"site": sites["a"], "rule": "dual_teller", "state": "ended"}
    ).json()
    assert [v["id"] for v in only["items"]] == [a1["id"]] and only["items"][0]["duration_s"] == 30
    window = op.get(
        "/api/v1/violations", params={"site": sites["a"], "from": "2026-11-26T12:00:00+08:00"}
    ).json()
    assert [v["id"] for v in window["items"]] == [a2["id"]]
    r = op.patch(
        f"/api/v1/violations/{a1['id']}", json={"review_status": "false_positive", "note": "reflection"}
    )
    assert r.status_code == 200 and r.json()["reviewed_by"] == names["op"]
    clip = op.get(f"/api/v1/violations/{a1['id']}/clip", headers={"Range": "bytes=100-199"})
    assert clip.status_code == 206 and clip.content == MP4[100:200]
    assert clip.headers["content-range"] == f"bytes 100-199/{len(MP4)}"
    assert (
        op.get(f"/api/v1/violations/{a1['id']}/clip", headers={"Range": "bytes=999999-"}).status_code == 416
    )
    csv_text = op.get(
        "/api/v1/summaries/daily", params={"date": "2026-11-26", "site": sites["a"], "format": "csv"}
    ).text
    rows = {(r["camera"], r["rule"]): r for r in csv.DictReader(io.StringIO(csv_text))}
    # a1 is a false positive: counted apart, left out of the count and the hour profile
    assert rows[("counter-1", "dual_teller")]["false_positive"] == "1"
    assert (rows[("counter-1", "dual_teller")]["count"], rows[("counter-1", "dual_teller")]["h09"]) == ("0", "0")
    assert rows[("counter-2", "unattended_items")]["h14"] == "1"

    # -- branch head of site b: only their branch, everywhere
    head = httpx.Client(base_url=url, timeout=30)
    assert (
        head.post("/api/v1/auth/login", data={"username": names["head"], "password": PW}).status_code == 200
    )
    mine = head.get("/api/v1/violations").json()
    assert [v["id"] for v in mine["items"]] == [b1["id"]] and mine["total"] == 1
    assert head.get(f"/api/v1/violations/{a1['id']}").status_code == 404
    assert head.get(f"/api/v1/violations/{a1['id']}/clip").status_code == 404
    assert head.get("/api/v1/violations", params={"site": sites["a"]}).status_code == 403
    assert (
        head.get("/api/v1/summaries/daily", params={"date": "2026-11-26", "site": sites["a"]}).status_code
        == 403
    )
    day = head.get("/api/v1/summaries/daily", params={"date": "2026-11-26"}).json()
    assert {r["site"] for r in day["rows"]} == {sites["b"]}
    assert head.patch(f"/api/v1/violations/{a1['id']}", json={"note": "x"}).status_code == 404
    assert (
        head.patch(f"/api/v1/violations/{b1['id']}", json={"review_status": "acknowledged"}).status_code
        == 200
    )

    # -- traversal through the URL, and the login limiter
    for path in (
        "/api/v1/violations/..%2F..%2F..%2Fetc%2Fpasswd/clip",
        "/api/v1/violations/%2e%2e/snapshot",
        "/api/v1/../../etc/passwd",
    ):
        r = op.get(path)
        assert r.status_code in (404, 422) and b"root:" not in r.content, path
    for _ in range(5):
        assert (
            anon.post("/api/v1/auth/login", json={"username": names["op"], "password": "guess"}).status_code
            == 401
        )
    assert anon.post("/api/v1/auth/login", json={"username": names["op"], "password": PW}).status_code == 429

    metrics = anon.get("/metrics", headers={"Authorization": f"Bearer {KEY}"}).text
    assert 'tellerwatch_ingest_events_total{result="created"} 3.0' in metrics
    assert 'tellerwatch_ingest_events_total{result="too_large"} 1.0' in metrics
