"""Page-test fixtures: one seeded API server (uvicorn on a loopback port, SQLite) for the whole
session, one headless Debian Chromium, and logged-in browser pages per role.

Set ``TELLERWATCH_SCREENSHOTS=1`` to have the e2e tests write docs/screenshots/*.png.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from api.app import create_app
from api.security import Passwords
from api.settings import Settings
from api.users import create_user
from tests.api.helpers import ThreadServer
from tests.web.seed import INGEST_KEY, PASSWORD, USERS, Seeded, Seeder

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--lang=zh-CN",
]
VIEWPORT = {"width": 1366, "height": 768}
SCREENSHOT_DIR = ROOT / "docs" / "screenshots"
# how Chromium logs an error status; a test that provokes one on purpose allows it with expect_status
STATUS_LINE = "Failed to load resource: the server responded with a status of {}"


@dataclass
class WebEnv:
    url: str
    app: FastAPI
    settings: Settings
    seeded: Seeded
    seeder: Seeder
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            self.tokens[username] = self.seeder.token(username)
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def api(self, method: str, path: str, username: str = "adm", **kwargs: Any) -> Any:
        r = self.seeder.http.request(method, "/api/v1" + path, headers=self.auth(username), **kwargs)
        r.raise_for_status()
        return r.json()


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebEnv]:
    data = tmp_path_factory.mktemp("web-data")
    settings = Settings(
        env="dev",
        data_dir=data,
        database_url=f"sqlite:///{data / 'tellerwatch.sqlite3'}",
        ingest_keys=INGEST_KEY,
        secret_key="web-test-secret-key-" + "y" * 32,  # type: ignore[arg-type]
        argon2_time_cost=1,
        argon2_memory_kib=64,
        argon2_parallelism=1,
        live_heartbeat_s=1.0,
    )
    app = create_app(settings)
    passwords = Passwords(settings)
    with app.state.db.session() as session:
        for name, (role, site) in USERS.items():
            create_user(session, passwords, name, role, site, PASSWORD)
    server = ThreadServer(app).start()
    seeder = Seeder(server.url, settings.evidence_path)
    try:
        yield WebEnv(server.url, app, settings, seeder.seed_all(), seeder)
    finally:
        seeder.http.close()
        server.stop()
        app.state.db.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class PageLog:
    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def expect_status(self, code: int) -> None:
        self.allowed.append(STATUS_LINE.format(code))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(e.startswith(a) for a in self.allowed)]


@pytest.fixture
def open_page(web: WebEnv, browser: Any) -> Iterator[Callable[..., Any]]:
    """open_page(username or None) -> a Page in a fresh context, logged in through the API's
    login route (the cookie lands in the browser's jar); the test fails on any script error."""
    contexts: list[Any] = []
    logs: list[PageLog] = []

    def make(username: str | None = None) -> Any:
        context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
        contexts.append(context)
        if username is not None:
            r = context.request.post(web.url + "/api/v1/auth/login", form={"username": username, "password": PASSWORD})
            assert r.ok, r.text()
        page = context.new_page()
        page.set_default_timeout(15_000)
        log = PageLog()
        logs.append(log)
        page.on("console", lambda m: log.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: log.errors.append(f"page error: {exc}"))
        page.log = log
        return page

    yield make
    for context in contexts:
        context.close()
    problems = [e for log in logs for e in log.unexpected()]
    assert not problems, f"browser console errors: {problems}"


def screenshot(page: Any, name: str) -> None:
    """docs/screenshots/NAME.png at 1366x768, only when TELLERWATCH_SCREENSHOTS=1."""
    if os.environ.get("TELLERWATCH_SCREENSHOTS") != "1":
        return
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.evaluate("document.getElementById('toasts').replaceChildren()")
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=False, animations="disabled")
