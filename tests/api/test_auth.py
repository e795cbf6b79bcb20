"""Login, tokens, cookies, rate limiting, user administration and the CLI helpers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api import cli_support
from api.security import create_token
from api.settings import Settings
from tests.api.conftest import PASSWORD
from tests.api.helpers import INGEST_KEY, record, register_site
from vision.errors import ConfigError


def test_login_json_returns_token_and_cookie(client: TestClient) -> None:
    r = client.post("/api/v1/auth/login", json={"username": "op", "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["user"] == {
        "username": "op",
        "role": "operator",
        "site": None,
        "active": True,
    }
    cookie = r.headers["set-cookie"]
    assert "tw_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["username"] == "op"


def test_login_form_and_cookie_session(client: TestClient) -> None:
    r = client.post("/api/v1/auth/login", data={"username": "head-a", "password": PASSWORD})
    assert r.status_code == 200
    # the TestClient keeps the cookie, as a browser would
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json() == {
        "username": "head-a",
        "role": "branch_head",
        "site": "site-a",
        "active": True,
    }
    assert client.post("/api/v1/auth/logout").status_code == 204
    client.cookies.clear()
    assert client.get("/api/v1/auth/me").status_code == 401


@pytest.mark.parametrize(
    "body",
    [{"username": "op", "password": "wrong password"}, {"username": "nobody", "password": PASSWORD}],
    ids=["wrong-password", "unknown-user"],
)
def test_bad_credentials_are_401(client: TestClient, body: dict[str, str]) -> None:
    r = client.post("/api/v1/auth/login", json=body)
    assert r.status_code == 401 and r.json()["detail"] == "wrong username or password"
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(
    "body",
    [{"username": "op"}, {"username": "", "password": "x"}, {"user": "op", "password": "x"}],
    ids=["no-password", "empty-name", "wrong-field"],
)
def test_malformed_login_is_422(client: TestClient, body: dict[str, str]) -> None:
    assert client.post("/api/v1/auth/login", json=body).status_code == 422


def test_login_rate_limited_per_user_and_ip(client: TestClient, settings: Settings) -> None:
    for _ in range(settings.login_max_failures):
        assert (
            client.post("/api/v1/auth/login", json={"username": "eng", "password": "guess"}).status_code
            == 401
        )
    r = client.post("/api/v1/auth/login", json={"username": "eng", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # another user from the same address is not locked out
    assert (
        client.post("/api/v1/auth/login", json={"username": "adm", "password": PASSWORD}).status_code == 200
    )


def test_expired_and_tampered_tokens_are_401(client: TestClient, users: Any, settings: Settings) -> None:
    uid, name = users.ids["operator"]
    old = create_token(settings.secret, uid, name, 0, 60, now=time.time() - 3600)
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    good = create_token(settings.secret, uid, name, 0, 60)
    head, body, sig = good.split(".")
    forged = create_token(b"another secret", uid, name, 0, 60)
    for bad in (f"{head}.{body}.{sig[:-2]}AA", forged, "garbage", "a.b.c", ""):
        r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, bad
    assert client.get("/api/v1/auth/me", headers={"Authorization": "Basic b3A6cA=="}).status_code == 401


def test_cookie_write_from_another_origin_is_refused(client: TestClient, users: Any) -> None:
    client.post("/api/v1/events", json=(rec := record()), headers={"X-API-Key": INGEST_KEY})
    client.cookies.set("tw_session", users.token("operator"))
    url = f"/api/v1/violations/{rec['id']}"
    r = client.patch(url, json={"note": "x"}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    r = client.patch(url, json={"note": "x"}, headers={"Origin": "http://testserver"})
    assert r.status_code == 200


def test_admin_manages_users(client: TestClient, users: Any) -> None:
    adm = users.headers("admin")
    r = client.post(
        "/api/v1/users",
        json={"username": "new-op", "password": "long enough pw", "role": "operator"},
        headers=adm,
    )
    assert r.status_code == 201, r.text
    assert (
        client.post(
            "/api/v1/users",
            json={"username": "new-op", "password": "long enough pw", "role": "operator"},
            headers=adm,
        ).status_code
        == 409
    )
    bad = client.post(
        "/api/v1/users",
        json={"username": "bh", "password": "long enough pw", "role": "branch_head"},
        headers=adm,
    )
    assert bad.status_code == 422 and "site" in bad.json()["detail"]
    login = client.post("/api/v1/auth/login", json={"username": "new-op", "password": "long enough pw"})
    token = login.json()["access_token"]
    assert "new-op" in [u["username"] for u in client.get("/api/v1/users", headers=adm).json()]
    assert client.delete("/api/v1/users/new-op", headers=adm).status_code == 204
    # removal revokes the tokens already issued
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert (
        client.post(
            "/api/v1/auth/login", json={"username": "new-op", "password": "long enough pw"}
        ).status_code
        == 401
    )
    assert client.delete("/api/v1/users/adm", headers=adm).status_code == 409
    assert client.delete("/api/v1/users/ghost", headers=adm).status_code == 404


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Path:
    monkeypatch.setenv("TELLERWATCH_ENV", "dev")
    monkeypatch.setenv("TELLERWATCH_ARGON2_MEMORY_KIB", "64")
    monkeypatch.setenv("TELLERWATCH_ARGON2_TIME_COST", "1")
    monkeypatch.delenv("TELLERWATCH_DATABASE_URL", raising=False)
    return data_dir


@pytest.mark.parametrize(
    ("name", "role", "site", "password", "message"),
    [
        ("x", "janitor", None, "long enough", "role 'janitor'"),
        ("x", "branch_head", None, "long enough", "needs --site"),
        ("x", "operator", "site-a", "long enough", "only branch_head"),
        ("x", "operator", None, "short", "at least 8"),
        ("bad name!", "operator", None, "long enough", "user name"),
        ("x", "branch_head", "bad site!", "long enough", "site"),
    ],
    ids=["role", "head-without-site", "operator-with-site", "short-password", "name", "site-id"],
)
def test_users_add_refuses(
    cli_env: Path, name: str, role: str, site: str | None, password: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        cli_support.users_add(name, role, site, password)


def test_users_add_creates_and_refuses_duplicates(cli_env: Path) -> None:
    with pytest.raises(ValueError, match="unknown site 'branch-012': the database knows no site yet"):
        cli_support.users_add("branch-12-head", "branch_head", "branch-012", "a good password")
    register_site("branch-012")
    register_site("branch-013")
    with pytest.raises(ValueError, match="unknown site 'branch-12'; known sites: branch-012, branch-013"):
        cli_support.users_add("branch-12-head", "branch_head", "branch-12", "a good password")
    cli_support.users_add("branch-12-head", "branch_head", "branch-012", "a good password")
    assert (cli_env / "tellerwatch.sqlite3").is_file()
    with pytest.raises(ValueError, match="exists already"):
        cli_support.users_add("branch-12-head", "operator", None, "a good password")


def test_production_settings_refuse_unsafe_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELLERWATCH_SECRET_KEY", raising=False)
    monkeypatch.setenv("TELLERWATCH_ENV", "production")
    with pytest.raises(ConfigError, match="TELLERWATCH_SECRET_KEY"):
        cli_support.load_settings()
    monkeypatch.setenv("TELLERWATCH_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("TELLERWATCH_ARGON2_MEMORY_KIB", "1024")
    with pytest.raises(ConfigError, match="ARGON2"):
        cli_support.load_settings()
    monkeypatch.delenv("TELLERWATCH_ARGON2_MEMORY_KIB")
    monkeypatch.setenv("TELLERWATCH_INGEST_KEYS", "short")
    with pytest.raises(ConfigError, match="INGEST_KEYS"):
        cli_support.load_settings()
    monkeypatch.setenv("TELLERWATCH_INGEST_KEYS", "k" * 20 + "," + "j" * 20)
    s = cli_support.load_settings()
    assert s.ingest_key_list == ["k" * 20, "j" * 20]
    assert s.argon2_memory_kib >= 19 * 1024 and s.argon2_time_cost >= 2  # memory-hard by default


def test_users_add_finds_the_serve_database_without_dev_mode(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    """No TELLERWATCH_ENV=dev and no secret key: adding a login signs nothing, so neither is needed;
    the login lands in the SQLite file under TELLERWATCH_DATA_DIR that serve and demo use, hashed
    at the production cost."""
    for name in ("ENV", "SECRET_KEY", "DATABASE_URL", "ARGON2_MEMORY_KIB", "ARGON2_TIME_COST"):
        monkeypatch.delenv(f"TELLERWATCH_{name}", raising=False)
    cli_support.users_add("wang", "operator", None, "a good password")
    engine = create_engine(f"sqlite:///{data_dir / 'tellerwatch.sqlite3'}")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT role, password_hash FROM users WHERE username = 'wang'")).one()
    engine.dispose()
    assert stored[0] == "operator" and "m=65536" in stored[1]


def test_users_add_unknown_site_is_one_line_exit_2(cli_env: Path) -> None:
    register_site("branch-012")
    run = subprocess.run(
        [sys.executable, "-m", "tellerwatch", "users", "add", "li", "--role", "branch_head", "--site", "branch-12",
         "--password-stdin"],
        input="a good password\n", capture_output=True, text=True, timeout=120, env=dict(os.environ),
    )
    assert run.returncode == 2
    assert run.stderr.strip() == "error: unknown site 'branch-12'; known sites: branch-012", run.stderr
