"""Records, fake evidence bytes and a loopback uvicorn server shared by the API and sink tests."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

INGEST_KEY = "test-ingest-key-0123456789abcdef"
OTHER_KEY = "test-ingest-key-second-abcdef0123"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"
# an 'ftyp' box header is all the API checks; the rest is a recognisable byte pattern for Range tests
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(i % 251 for i in range(100_000))


def new_id() -> str:
    return uuid.uuid4().hex


def record(**overrides: Any) -> dict[str, Any]:
    """A valid violation record (DESIGN.md), open unless overridden."""
    rec: dict[str, Any] = {
        "id": new_id(),
        "site": "site-a",
        "camera": "counter-1",
        "rule": "dual_teller",
        "zone": "teller_area",
        "severity": "high",
        "state": "open",
        "started_at": "2026-11-26T09:00:07.400+08:00",
        "ended_at": None,
        "duration_s": 5.0,
        "track_ids": [3],
        "details": {"min_staff_seen": 1},
        "snapshot": None,
        "clip": None,
    }
    rec.update(overrides)
    return rec


def ended(
    rec: dict[str, Any], ended_at: str = "2026-11-26T09:00:19.000+08:00", duration_s: float = 11.6
) -> dict[str, Any]:
    return {**rec, "state": "ended", "ended_at": ended_at, "duration_s": duration_s}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadServer:
    """A real uvicorn server on a loopback port, in a thread of this process."""

    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("uvicorn did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ThreadServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"


@contextmanager
def temporary_pg_database(prefix: str) -> Iterator[str]:
    """A fresh database on the local PostgreSQL server, dropped afterwards; yields its name.
    Skips the test where psycopg is missing or the server is unreachable."""
    import pytest

    psycopg = pytest.importorskip("psycopg", reason="psycopg (the postgres extra) is not installed")
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is unreachable: {exc}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def register_site(site: str) -> None:
    """Make ``site`` known to the database the CLI finds from the environment, as a pipeline's
    first report or ``serve --config`` would (``users add --site`` refuses unknown sites)."""
    from api.cli_support import database_settings
    from api.db import Database
    from api.ingest import ensure_site

    db = Database(database_settings())
    try:
        db.migrate()
        with db.session() as session:
            ensure_site(session, site)
            session.commit()
    finally:
        db.dispose()
def _wait_healthy(proc: Any, url: str, deadline: float) -> None:
    """Until ``url``/healthz answers 200; RuntimeError if the process exits or the deadline passes."""
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("serve did not start")
        time.sleep(0.1)


@contextmanager
def serve_replicas(
    count: int, env: dict[str, str], users: Sequence[tuple[str, str, str]] = (), start_timeout_s: float = 90
) -> Iterator[list[str]]:
    """``count`` real ``tellerwatch serve`` processes on loopback ports, started at the same time
    (so they race to migrate an empty database), then ``users add`` for each (name, role, password).
    Yields their base URLs; stops them on exit and fails if any printed a traceback."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    full_env = {**os.environ, "PYTHONPATH": str(root), "TELLERWATCH_ENV": "production", **env}
    ports = [free_port() for _ in range(count)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tellerwatch", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=root, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    outputs: list[str] = []
    try:
        deadline = time.monotonic() + start_timeout_s
        for proc, url in zip(procs, urls, strict=True):
            _wait_healthy(proc, url, deadline)
        for name, role, password in users:
            add = subprocess.run(
                [sys.executable, "-m", "tellerwatch", "users", "add", name, "--role", role, "--password-stdin"],
                input=password + "\n", text=True, capture_output=True, cwd=root, env=full_env, timeout=120,
            )
            if add.returncode != 0:
                raise RuntimeError(add.stderr)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                out, _ = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            outputs.append(out or "")
    for out in outputs:
        assert "Traceback" not in out, out[-3000:]
