"""A camera that never answers (the TCP connection is accepted, no RTSP reply ever comes) is
``reconnecting`` and then ``down`` after ``down_after_s``, in ``/metrics`` and in the camera list
the review page shows, while its source keeps reconnecting with backoff."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from api.security import Passwords
from api.settings import Settings
from api.users import create_user
from tests.api.helpers import INGEST_KEY, ThreadServer
from tests.reliability.helpers import StubDetector, camera_status, wait_for
from vision.config import ApiSinkConfig, parse_config
from vision.runner import run
from vision.sinks import HttpSink

KEY_ENV = "TW_SILENT_KEY"
SITE = "silent-branch"
PASSWORD = "correct horse battery"


class SilentServer:
    """Accepts TCP connections and never says a word; records when each attempt came."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[float] = []
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(time.monotonic())
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.held:
            c.close()


def test_camera_that_never_answers_goes_down_and_keeps_retrying(tmp_path: Path, monkeypatch: Any) -> None:
    settings = Settings(env="dev", data_dir=tmp_path / "api", ingest_keys=INGEST_KEY, argon2_time_cost=1,
                        argon2_memory_kib=64, argon2_parallelism=1)
    app = create_app(settings)
    with app.state.db.session() as session:
        create_user(session, Passwords(settings), "op", "operator", None, PASSWORD)
        session.commit()
    silent = SilentServer()
    monkeypatch.setenv(KEY_ENV, INGEST_KEY)
    cfg = parse_config(
        f"site: {{id: {SITE}}}\ncameras: [{{id: mute, source: 'rtsp://127.0.0.1:{silent.port}/cam'}}]\n",
        base_dir=tmp_path,
    )
    stop = threading.Event()
    seen: set[str] = set()
    try:
        with ThreadServer(app) as server:
            sink = HttpSink(ApiSinkConfig(url=server.url, key_env=KEY_ENV, timeout_s=2), tmp_path / "data")
            runner = threading.Thread(
                target=run, args=(cfg,), daemon=True,
                kwargs={"data_dir": tmp_path / "data", "clips": False, "sinks": [sink], "detector": StubDetector(),
                        "stop": stop, "status_interval_s": 0.5, "down_after_s": 3.0},
            )
            t0 = time.monotonic()
            runner.start()

            def status() -> str | None:
                s = camera_status(server.url, INGEST_KEY, SITE, "mute")
                if s:
                    seen.add(s)
                return s

            wait_for(lambda: status() == "down", 15, 0.1, "the silent camera down in /metrics")
            down_after = time.monotonic() - t0
            token = httpx.post(server.url + "/api/v1/auth/login", json={"username": "op", "password": PASSWORD},
                               timeout=10).json()["access_token"]
            cams = httpx.get(server.url + "/api/v1/cameras?reported=true", headers={"Authorization": f"Bearer {token}"},
                             timeout=10).json()
            listed = [c for c in cams if c["camera"] == "mute"]
            assert listed and listed[0]["status"] == "down" and listed[0]["site"] == SITE and listed[0]["status_at"]
            # the source keeps trying: a new connection after each stall timeout plus backoff
            wait_for(lambda: len(silent.accepted) >= 3, 40, 0.2, "three connection attempts")
            assert status() == "down"
            stop.set()
            runner.join(timeout=30)
            sink.close()
    finally:
        stop.set()
        silent.close()
        app.state.db.dispose()
    gaps = [b - a for a, b in zip(silent.accepted, silent.accepted[1:], strict=False)]
    print(f"down after {down_after:.1f} s; attempts {len(silent.accepted)}, gaps {[round(g, 1) for g in gaps]} s")
    assert "reconnecting" in seen and down_after < 10
    assert all(g >= 1.0 for g in gaps)  # never a busy loop
