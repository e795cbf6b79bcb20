"""``tellerwatch serve`` and ``users add`` as the CLI calls them (api.cli_support)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api import cli_support
from tests.api.helpers import free_port
from vision.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
site: {id: branch-012, timezone: Asia/Shanghai}
sinks:
  api: {url: "http://127.0.0.1:8000"}
cameras:
  - id: counter-1
    source: sample_videos/counter_ok.mp4
    zones:
      - {name: teller_area, kind: teller_area, polygon: [[0.0,0.45],[1.0,0.45],[1.0,1.0],[0.0,1.0]]}
"""


def test_serve_with_config_registers_site_and_zones(tmp_path: Path) -> None:
    cfg = tmp_path / "tellerwatch.yaml"
    cfg.write_text(CONFIG)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TELLERWATCH_ENV": "dev",
        "TELLERWATCH_DATA_DIR": str(tmp_path / "d"),
        "TELLERWATCH_INGEST_KEYS": "serve-test-key-0123456789",
    }
    env.pop("TELLERWATCH_DATABASE_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from api.cli_support import serve; serve({str(cfg)!r}, '127.0.0.1', {port})",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        zones = httpx.get(
            url + "/api/v1/cameras/counter-1/zones", headers={"X-API-Key": "serve-test-key-0123456789"}
        )
        assert zones.status_code == 200 and zones.json()["site"] == "branch-012"
        assert [z["name"] for z in zones.json()["zones"]] == ["teller_area"]
        assert (tmp_path / "d" / "tellerwatch.sqlite3").is_file()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert b"Traceback" not in out, out.decode()[-2000:]


def test_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELLERWATCH_ENV", "dev")
    monkeypatch.setenv(
        "TELLERWATCH_DATABASE_URL", f"postgresql://tw:secret-pw@127.0.0.1:{free_port()}/nowhere"
    )
    with pytest.raises(ConfigError) as exc:
        cli_support.users_add("someone", "operator", None, "long enough pw")
    message = str(exc.value)
    assert "cannot use the database" in message and "secret-pw" not in message and "\n" not in message
