"""API fixtures: one app per database backend (SQLite file, and a fresh database on the local
PostgreSQL server), standard users, and a clean violations table for every test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete

from api.app import create_app
from api.models import AuditEntry, Camera, CameraReport, LoginAttempt, Site, Violation
from api.security import Passwords, create_token
from api.settings import Settings
from api.users import create_user
from tests.api.helpers import INGEST_KEY, OTHER_KEY, temporary_pg_database

PASSWORD = "correct horse battery"
ROLE_USERS = {
    "operator": ("op", "operator", None),
    "engineer": ("eng", "engineer", None),
    "admin": ("adm", "admin", None),
    "bh_a": ("head-a", "branch_head", "site-a"),
    "bh_b": ("head-b", "branch_head", "site-b"),
}


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'tellerwatch.sqlite3'}"
        return
    with temporary_pg_database("tw_test") as name:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def make_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "dev",
        "data_dir": data_dir,
        "database_url": database_url,
        "ingest_keys": f"{INGEST_KEY},{OTHER_KEY}",
        "secret_key": "test-secret-key-" + "x" * 32,
        # cheap hashing keeps the suite fast; production defaults are checked in test_security
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "argon2_parallelism": 1,
        "live_heartbeat_s": 0.5,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class Users:
    settings: Settings
    ids: dict[str, tuple[int, str]]

    def token(self, who: str) -> str:
        uid, name = self.ids[who]
        return create_token(self.settings.secret, uid, name, 0, 3600)

    def headers(self, who: str) -> dict[str, str]:
        if who == "anon":
            return {}
        if who == "key":
            return {"X-API-Key": INGEST_KEY}
        return {"Authorization": f"Bearer {self.token(who)}"}


@pytest.fixture(scope="session")
def api_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    data = tmp_path_factory.mktemp("api-data")
    app = create_app(make_settings(database_url, data))
    yield app
    if app.state.live_relay is not None:  # TestClient without a lifespan: stop the LISTEN thread here
        app.state.live_relay.stop()
    app.state.db.dispose()


@pytest.fixture(scope="session")
def users(api_app: FastAPI) -> Users:
    settings: Settings = api_app.state.settings
    passwords = Passwords(settings)
    ids = {}
    with api_app.state.db.session() as session:
        for key, (name, role, site) in ROLE_USERS.items():
            user = create_user(session, passwords, name, role, site, PASSWORD)
            ids[key] = (user.id, user.username)
    return Users(settings, ids)


@pytest.fixture
def app(api_app: FastAPI, users: Users) -> FastAPI:
    """The session app with its standard users and per-test state reset: empty violation tables,
    fresh login limiter."""
    with api_app.state.db.session() as session:
        for model in (Violation, Camera, CameraReport, Site):
            session.execute(delete(model))
        session.commit()
    with api_app.state.db.session() as session:
        session.execute(delete(LoginAttempt))
        session.execute(delete(AuditEntry))
        session.commit()
    return api_app


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


@pytest.fixture
def settings(app: FastAPI) -> Settings:
    s: Settings = app.state.settings
    return s
