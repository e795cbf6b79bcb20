"""Access attacks the API suite did not cover yet (see tests/api/test_security.py, test_auth.py,
test_events.py, test_violations.py, test_authz_matrix.py and tests/web/test_pages.py for the rest):

* tokens issued under a short ``TELLERWATCH_TOKEN_TTL_S`` stop working, as bearer and as cookie;
* path traversal through record paths (absolute, ``..``, encoded, backslashes, NUL), upload file
  names, camera and site ids, a symlinked folder inside the evidence folder, and ``/static``;
* oversized bodies on every JSON route (declared and streamed), over a real socket;
* a whole serve + users add + login + ingest + pipeline session at DEBUG log level never writes
  the password, the ingest key, the secret key, a bearer token, or the camera/MQTT/database
  passwords to any log;
* ``tellerwatch serve`` outside dev without a usable ``TELLERWATCH_SECRET_KEY``: exit 2, one line.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import api.security
from api.app import create_app
from api.security import Passwords, create_token
from api.settings import Settings
from api.users import create_user
from tests.api.helpers import INGEST_KEY, JPEG, MP4, ThreadServer, free_port, record
from tests.reliability.helpers import ROOT, ApiProcess, interruptible, still_clip, wait_for

PASSWORD = "access test password"
KEY = {"X-API-Key": INGEST_KEY}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    settings = Settings(env="dev", data_dir=tmp_path / "api", ingest_keys=INGEST_KEY, secret_key="k" * 40,
                        token_ttl_s=60, argon2_time_cost=1, argon2_memory_kib=64, argon2_parallelism=1,
                        max_json_bytes=4096)
    app = create_app(settings)
    with app.state.db.session() as s:
        create_user(s, Passwords(settings), "op", "operator", None, PASSWORD)
        create_user(s, Passwords(settings), "adm", "admin", None, PASSWORD)
        create_user(s, Passwords(settings), "eng", "engineer", None, PASSWORD)
    yield app
    app.state.db.dispose()


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def bearer(client: TestClient, who: str = "adm") -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": who, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


# --------------------------------------------------------------------------- token lifetime


def test_short_ttl_tokens_expire_as_bearer_and_cookie(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    r = client.post("/api/v1/auth/login", json={"username": "op", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["expires_in"] == 60
    assert "Max-Age=60" in r.headers["set-cookie"]
    token = r.json()["access_token"]
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/api/v1/auth/me").status_code == 200  # the session cookie
    real = time.time
    monkeypatch.setattr(api.security, "time", types.SimpleNamespace(time=lambda: real() + 59))
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    monkeypatch.setattr(api.security, "time", types.SimpleNamespace(time=lambda: real() + 61))
    for headers in ({"Authorization": f"Bearer {token}"}, {}):
        r = client.get("/api/v1/auth/me", headers=headers)
        assert r.status_code == 401 and r.json()["detail"] == "invalid or expired token", headers
    # a token signed for longer than the server allows is still only as good as its own expiry
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        from api.models import User

        uid = s.query(User).filter_by(username="op").one().id
    stale = create_token(settings.secret, uid, "op", 0, 60, now=real() - 120)
    monkeypatch.setattr(api.security, "time", types.SimpleNamespace(time=real))
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {stale}"}).status_code == 401


# --------------------------------------------------------------------------- path traversal


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "../../../../etc/passwd", "evidence/../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd",
     "..\\..\\etc\\passwd", "cam/a.jpg\x00.png", "//etc/passwd", "file:///etc/passwd"],
    ids=["absolute", "dotdot", "prefixed-dotdot", "encoded", "backslash", "nul", "double-slash", "file-url"],
)
def test_record_paths_never_reach_outside_the_evidence_folder(client: TestClient, path: str) -> None:
    rec = record(snapshot=path, clip=path, details={"clip_annotated": path})
    r = client.post("/api/v1/events", headers=KEY, json=rec)
    assert r.status_code in (201, 422), r.text
    if r.status_code == 201:
        h = bearer(client)
        for route in ("snapshot", "clip", "clip/annotated"):
            got = client.get(f"/api/v1/violations/{rec['id']}/{route}", headers=h)
            assert got.status_code == 404 and b"root:" not in got.content, (route, got.status_code)


def test_upload_file_names_are_ignored(client: TestClient, app: FastAPI, tmp_path: Path) -> None:
    evidence = app.state.settings.evidence_path
    target = tmp_path / "pwned.jpg"
    rel = os.path.relpath(target, evidence / "counter-1")
    rec = record()
    r = client.post("/api/v1/events", headers=KEY, data={"record": json.dumps(rec)},
                    files={"snapshot": (rel, JPEG, "image/jpeg"), "clip": ("/tmp/pwned.mp4", MP4, "video/mp4")})
    assert r.status_code == 201, r.text
    assert not target.exists() and not Path("/tmp/pwned.mp4").exists()
    stored = sorted(p.relative_to(evidence).as_posix() for p in evidence.rglob("*") if p.is_file())
    assert stored == [f"counter-1/{rec['id']}.jpg", f"counter-1/{rec['id']}.mp4"]


def test_symlinked_folder_in_the_evidence_folder_is_not_followed_out(
    client: TestClient, app: FastAPI, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    rec = record(camera="linked")
    vid = rec["id"]
    (outside / f"{vid}.jpg").write_bytes(JPEG)
    (outside / f"{vid}.mp4").write_bytes(MP4)
    (outside / f"{vid}.annotated.mp4").write_bytes(MP4)
    os.symlink(outside, app.state.settings.evidence_path / "linked")
    rec.update(snapshot=f"evidence/linked/{vid}.jpg", clip=f"linked/{vid}.mp4",
               details={"clip_annotated": f"evidence/linked/{vid}.annotated.mp4"})
    assert client.post("/api/v1/events", headers=KEY, json=rec).status_code == 201
    h = bearer(client)
    for route in ("snapshot", "clip", "clip/annotated"):
        assert client.get(f"/api/v1/violations/{rec['id']}/{route}", headers=h).status_code == 404, route


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/api/v1/cameras/..%2F..%2Fetc/snapshot"),
        ("GET", "/api/v1/cameras/counter-1/snapshot?site=..%2F..%2Fetc"),
        ("GET", "/api/v1/cameras/%2e%2e/zones"),
        ("POST", "/api/v1/cameras/..%2F..%2Fpwned/frame?site=site-a"),
        ("POST", "/api/v1/cameras/counter-1/frame?site=..%2F..%2Fpwned"),
        ("POST", "/api/v1/cameras/counter-1/frame?site=%2Ftmp%2Fpwned"),
        ("GET", "/static/..%2F..%2Fapp.py"),
        ("GET", "/static/../../api/settings.py"),
        ("GET", "/static/%2e%2e/%2e%2e/settings.py"),
    ],
)
def test_camera_site_and_static_paths_refuse_traversal(
    client: TestClient, app: FastAPI, tmp_path: Path, method: str, url: str
) -> None:
    headers = KEY if method == "POST" else bearer(client)
    r = client.request(method, url, headers={**headers, "Content-Type": "image/jpeg"},
                       content=JPEG if method == "POST" else None)
    assert r.status_code in (400, 404, 422), (url, r.status_code, r.text[:200])
    assert b"TELLERWATCH_" not in r.content and b"root:" not in r.content
    frames = app.state.settings.frames_path
    written = [p for p in app.state.settings.data_dir.resolve().rglob("*") if p.is_file() and "pwned" in str(p)]
    assert written == [] and not (frames.parent / "pwned").exists()


# --------------------------------------------------------------------------- oversized bodies


JSON_ROUTES = [
    ("POST", "/api/v1/auth/login", None),
    ("PATCH", "/api/v1/violations/{vid}", "adm"),
    ("PUT", "/api/v1/cameras/counter-1/zones?site=site-a", "eng"),
    ("POST", "/api/v1/users", "adm"),
    ("POST", "/api/v1/metrics/pipeline", "key"),
]


@pytest.mark.parametrize(("method", "path", "who"), JSON_ROUTES, ids=[r[1].split("?")[0] for r in JSON_ROUTES])
@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_oversized_json_bodies_are_413_over_a_real_socket(
    app: FastAPI, method: str, path: str, who: str | None, streamed: bool
) -> None:
    """TELLERWATCH_MAX_JSON_BYTES (4096 here) on every JSON route, whether the client declares the
    length or streams the body; the connection is closed, nothing is stored."""
    rec = record()
    with ThreadServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as c:
        assert c.post("/api/v1/events", headers=KEY, json=rec).status_code == 201
        headers = {"Content-Type": "application/json"}
        if who == "key":
            headers.update(KEY)
        elif who is not None:
            token = c.post("/api/v1/auth/login", json={"username": who, "password": PASSWORD}).json()["access_token"]
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps({"note": "x" * 10_000, "username": "u", "password": "p" * 10_000}).encode()

        def chunks() -> Iterator[bytes]:
            for i in range(0, len(body), 1000):
                yield body[i: i + 1000]

        r = c.request(method, path.format(vid=rec["id"]), headers=headers, content=chunks() if streamed else body)
        assert r.status_code == 413, (r.status_code, r.text[:200])
        assert "larger than 4096 bytes" in r.text
        row = c.get(f"/api/v1/violations/{rec['id']}",
                    headers={"Authorization": headers.get("Authorization", "")} if who == "adm" else {})
        if who == "adm":
            assert row.json()["review_note"] is None and row.json()["review_status"] == "unreviewed"


# --------------------------------------------------------------------------- secrets in logs


@pytest.mark.slow
def test_secrets_never_reach_the_logs(tmp_path: Path, footage: Any, db_url: tuple[str, str]) -> None:
    """Measures: every byte that serve, users add and run (two cameras, the API and MQTT sinks)
    wrote to stdout/stderr at DEBUG level, searched for seven secrets."""
    secret_key = "sk-" + secrets.token_urlsafe(32)
    ingest_key = "ik-" + secrets.token_urlsafe(24)
    password = "pw-" + secrets.token_urlsafe(12)
    cam_password = "cam-" + secrets.token_hex(6)
    mqtt_password = "mq-" + secrets.token_hex(6)
    database_url, db_password = db_url
    env = {
        "TELLERWATCH_ENV": "production",
        "TELLERWATCH_SECRET_KEY": secret_key,
        "TELLERWATCH_INGEST_KEYS": ingest_key,
        "TELLERWATCH_DATABASE_URL": database_url,
        "TELLERWATCH_DATA_DIR": str(tmp_path / "api-data"),
        "TELLERWATCH_LOG_LEVEL": "DEBUG",
    }
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    logs: list[str] = []
    try:
        add = subprocess.run([sys.executable, "-m", "tellerwatch", "users", "add", "op-" + uuid.uuid4().hex[:6],
                              "--role", "operator", "--password-stdin"], input=password + "\n", capture_output=True,
                             text=True, env=full_env, cwd=ROOT, timeout=120)
        logs += [add.stdout, add.stderr]
        assert add.returncode == 0, add.stderr
        username = add.stdout.split("'")[1]
        api = ApiProcess(env, tmp_path / "serve.log").start()
        try:
            c = httpx.Client(base_url=api.url, timeout=30)
            for wrong in ({"username": username, "password": password + "x"}, {"username": password, "password": "x"}):
                assert c.post("/api/v1/auth/login", json=wrong).status_code == 401  # a password typed as the name
            r = c.post("/api/v1/auth/login", data={"username": username, "password": password})
            assert r.status_code == 200
            token = r.json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            assert c.get("/api/v1/violations", headers=auth).status_code == 200
            assert c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}x"}).status_code == 401
            assert c.get("/metrics", headers={"Authorization": f"Bearer {ingest_key}"}).status_code == 200
            assert c.post("/api/v1/events", headers={"X-API-Key": ingest_key + "x"}, json=record()).status_code == 401
            logs.append(_run_pipeline(tmp_path, footage, api.url, ingest_key, cam_password, mqtt_password, full_env))
            assert c.get("/api/v1/violations", headers=auth).json()["total"] >= 1  # the pipeline got through
            c.post("/api/v1/auth/logout", headers=auth)
        finally:
            api.stop()
        logs.append((tmp_path / "serve.log").read_text())
    finally:
        text = "\n".join(logs)
        (tmp_path / "all.log").write_text(text)
    assert "HTTP Request: POST" in text or "POST /api/v1/events" in text  # the logs are really there
    for name, value in [("password", password), ("ingest key", ingest_key), ("secret key", secret_key),
                        ("bearer token", token), ("camera password", cam_password),
                        ("MQTT password", mqtt_password), ("database password", db_password)]:
        assert value not in text, f"the {name} appears in the logs"
    assert token.split(".")[1] not in text  # not even the signature


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(URL, its password): a fresh database on the local PostgreSQL, whose trust auth ignores the
    password, which is what lets the test put one in the URL; SQLite where PostgreSQL is absent."""
    password = "db-" + secrets.token_hex(6)
    try:
        import psycopg

        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3",
                                autocommit=True)
    except Exception:  # noqa: BLE001 - psycopg missing or server down: SQLite instead
        yield f"sqlite:///{tmp_path / 'api.sqlite3'}", password
        return
    name = f"tw_logs_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres:{password}@127.0.0.1:5432/{name}", password
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _run_pipeline(tmp_path: Path, footage: Any, url: str, ingest_key: str, cam_password: str, mqtt_password: str,
                  env: dict[str, str]) -> str:
    clip = still_clip(footage("bottle-detection.mp4"), tmp_path / "still.mp4")
    cfg = tmp_path / "site.yaml"
    cfg.write_text(f"""
site: {{id: log-branch, timezone: Asia/Shanghai}}
sinks:
  api: {{url: "{url}", key_env: TW_LOG_KEY, timeout_s: 5}}
  mqtt: {{host: 127.0.0.1, port: 1883, topic_prefix: tw-log-{uuid.uuid4().hex[:6]}, username: cam-user,
         password_env: TW_MQTT_PW}}
cameras:
  - id: file-cam
    source: {clip}
    loop: true
    analysis_fps: 2
    staff: {{method: everyone}}
    zones: [{{name: counter, kind: teller_area, polygon: [[0,0],[1,0],[1,1],[0,1]]}}]
    rules: [{{type: dual_teller, zone: counter, min_staff: 1, grace_s: 0, clear_s: 1, when: always}}]
  - id: ip-cam
    source: rtsp://admin:{cam_password}@127.0.0.1:{free_port()}/Streaming/Channels/101
    analysis_fps: 2
""", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tellerwatch", "run", str(cfg), "--no-clips"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**env, "TELLERWATCH_DATA_DIR": str(tmp_path / "pipe"), "TW_LOG_KEY": ingest_key,
             "TW_MQTT_PW": mqtt_password},
        preexec_fn=interruptible,
    )
    outbox = tmp_path / "pipe" / "outbox.sqlite3"
    try:
        wait_for(lambda: outbox.exists(), 60, 0.2, "the pipeline to start")
        time.sleep(8)  # the live camera fails to open and retries; the file camera files a violation
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "cannot open" in out and "***@127.0.0.1" in out, out[-2000:]  # the URL is logged, redacted
    return out


# --------------------------------------------------------------------------- unsafe settings


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({}, "TELLERWATCH_SECRET_KEY"),
        ({"TELLERWATCH_SECRET_KEY": "short"}, "TELLERWATCH_SECRET_KEY"),
        ({"TELLERWATCH_SECRET_KEY": ""}, "TELLERWATCH_SECRET_KEY"),
        ({"TELLERWATCH_ENV": "production"}, "TELLERWATCH_SECRET_KEY"),
        ({"TELLERWATCH_ENV": "staging", "TELLERWATCH_SECRET_KEY": "s" * 40}, "TELLERWATCH_ENV"),
    ],
    ids=["unset", "short", "empty", "production-unset", "unknown-env"],
)
def test_serve_outside_dev_needs_a_secret_key(tmp_path: Path, env: dict[str, str], needle: str) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TELLERWATCH_")}
    r = subprocess.run(
        [sys.executable, "-m", "tellerwatch", "serve", "--port", str(free_port())],
        env={**base, "PYTHONPATH": str(ROOT), "TELLERWATCH_DATA_DIR": str(tmp_path / "d"), **env},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    lines = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
    assert r.returncode == 2, (r.returncode, lines)
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("error: "), lines
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").iterdir())  # refused before touching data
