"""`tellerwatch demo` as an evaluator runs it: offline, the embedded default detector, the three
rules' violations served behind the demo logins (one per role, password demo)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.slow
def test_demo_serves_each_rule(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, TELLERWATCH_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen([sys.executable, "-m", "tellerwatch", "demo", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("done:"):
                break
        assert any(ln.startswith("done:") for ln in lines), "".join(lines)
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=30) as c:
            token = c.post("/api/v1/auth/login", json={"username": "demo", "password": "demo"}).json()["access_token"]
            items = c.get("/api/v1/violations", params={"limit": 200},
                          headers={"Authorization": f"Bearer {token}"}).json()["items"]
            assert {v["rule"] for v in items} == {"dual_teller", "unattended_items", "non_staff_in_area",
                                                  "tailgating", "intrusion", "camera_tamper", "cash_escort",
                                                  "camera_offline"}
            assert all(v["state"] == "ended" for v in items)
            shown = next(v for v in items if v["rule"] != "camera_offline")  # offline has no frames to show
            clip = c.get(f"/api/v1/violations/{shown['id']}/clip", headers={"Authorization": f"Bearer {token}"})
            assert clip.status_code == 200 and clip.content[4:8] == b"ftyp"
            check_logins(c, "".join(lines), items, env, tmp_path)
        if os.environ.get("TELLERWATCH_SCREENSHOTS") and CHROMIUM.exists():
            screenshot(url, ROOT / "docs" / "screenshots" / "demo-review.png")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


LOGINS = {"demo": "admin", "demo-operator": "operator", "demo-branch": "branch_head", "demo-engineer": "engineer"}


def check_logins(c: httpx.Client, printed: str, items: list[dict[str, Any]], env: dict[str, str], cwd: Path) -> None:
    """The four demo logins are printed and work; the branch head's summary opens on the demo's day
    with the demo's violations; ``users add`` with the same environment writes the demo's database."""
    for name, role in LOGINS.items():
        assert re.search(rf"^\s+{re.escape(name)}\s+{role}", printed, re.M), printed
        r = c.post("/api/v1/auth/login", json={"username": name, "password": "demo"})
        assert r.status_code == 200, (name, r.text)
        me = c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}).json()
        assert me["role"] == role
    site = items[0]["site"]
    token = c.post("/api/v1/auth/login", json={"username": "demo-branch", "password": "demo"}).json()["access_token"]
    head = {"Authorization": f"Bearer {token}"}
    summary = c.get("/api/v1/summaries/daily", headers=head).json()
    assert summary["site"] == site
    assert summary["date"] == max(v["started_at"][:10] for v in items)
    assert summary["total"] == sum(1 for v in items if v["started_at"][:10] == summary["date"])
    # users add, run as an administrator would with only the data folder set, reaches the same database
    add_env = {k: v for k, v in env.items() if not k.startswith("TELLERWATCH_")}
    add_env["TELLERWATCH_DATA_DIR"] = env["TELLERWATCH_DATA_DIR"]
    cmd = [sys.executable, "-m", "tellerwatch", "users", "add", "wang", "--role", "branch_head", "--password-stdin"]
    bad = subprocess.run([*cmd, "--site", "nowhere"], input="wang's password\n", capture_output=True, text=True,
                         cwd=cwd, env=add_env, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip() == f"error: unknown site 'nowhere'; known sites: {site}"
    ok = subprocess.run([*cmd, "--site", site], input="wang's password\n", capture_output=True, text=True,
                        cwd=cwd, env=add_env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    r = c.post("/api/v1/auth/login", json={"username": "wang", "password": "wang's password"})
    assert r.status_code == 200, r.text


def screenshot(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.web.conftest import CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{url}/login")
        page.fill("input[name=username]", "demo")
        page.fill("input[name=password]", "demo")
        page.click("#login-submit")
        page.wait_for_url(re.compile(r"/review"))
        page.wait_for_timeout(1500)
        page.locator("li", has_text="柜面现金无人看管").first.click()
        page.wait_for_timeout(3000)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()
