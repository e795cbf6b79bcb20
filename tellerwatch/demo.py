"""``tellerwatch demo``: the whole product on one laptop, offline, in a few minutes.

It serves the API and web pages, runs the pipeline with the embedded default detector over the
project's own sample scenes (rendered by ``sample_videos``, so nothing is downloaded), pushes
every violation through the same HTTP outbox a branch box uses, and leaves the pages up until
interrupted, with one login per role (``demo``, ``demo-operator``, ``demo-branch``,
``demo-engineer``; password ``demo``). Its database is the one ``serve`` and ``users add`` find.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from vision.config import ApiSinkConfig, AppConfig, load_config
from vision.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "sample_videos" / "scenes"
DEMO_KEY_ENV = "TELLERWATCH_DEMO_INGEST_KEY"
DEMO_KEY = "demo-ingest-key-0123456789"


def scene_configs(folder: Path = SCENES) -> list[Path]:
    configs = sorted(folder.glob("*.yaml"))
    if not configs:
        raise ConfigError(f"no sample scenes in {folder}; make them with: python -m sample_videos.generate")
    return configs


# DESIGN "Demo logins": one per role, all with the password ``demo``
DEMO_PASSWORD = "demo"


def demo_logins(site: str) -> list[tuple[str, str, str | None]]:
    """(name, role, site) of the demo's logins: ``demo-branch`` heads the demo site."""
    return [
        ("demo", "admin", None),
        ("demo-operator", "operator", None),
        ("demo-branch", "branch_head", site),
        ("demo-engineer", "engineer", None),
    ]


def ensure_demo_users(db: object, settings: object, logins: list[tuple[str, str, str | None]]) -> None:
    """Create the demo logins, or reset them to the demo's role, site and password where a
    previous run left them. Short passwords are allowed only because the demo runs with env=dev."""
    from sqlalchemy import select

    from api.models import User
    from api.security import Passwords

    passwords = Passwords(settings)  # type: ignore[arg-type]
    with db.session() as session:  # type: ignore[attr-defined]
        for name, role, site in logins:
            user = session.scalars(select(User).where(User.username == name)).first()
            if user is None:
                user = User(username=name, token_generation=0)
                session.add(user)
            user.password_hash = passwords.hash(DEMO_PASSWORD)
            user.role, user.site, user.active = role, site, True
        session.commit()


def reset_demo_sites(db: object, sites: set[str]) -> None:
    """A rerun starts the demo's own site(s) from a clean slate instead of doubling them up; the
    rest of the database is left alone."""
    from sqlalchemy import delete

    from api.models import Violation

    with db.session() as session:  # type: ignore[attr-defined]
        session.execute(delete(Violation).where(Violation.site.in_(sorted(sites))))
        session.commit()


def _where(settings: object) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.db_url).render_as_string(hide_password=True)  # type: ignore[attr-defined]


def run_scenes(configs: list[AppConfig], url: str, data_dir: Path, say: Callable[[str], None]) -> int:
    """Runs every scene through the pipeline with an HTTP sink to the demo API; returns violations."""
    from vision.runner import run
    from vision.sinks.http import HttpSink

    total = 0
    for cfg in configs:
        # the demo API reads the evidence folder directly (a shared path), annotated clips included
        sink = HttpSink(ApiSinkConfig(url=url, key_env=DEMO_KEY_ENV, upload_evidence=False), data_dir)
        try:
            report = run(cfg, data_dir=data_dir, sinks=[sink])
            sink.flush(30.0)
        finally:
            sink.close()
        total += len(report.violations)
        rules = sorted({v.rule for v in report.violations})
        say(f"  {cfg.cameras[0].id}: {len(report.violations)} violation(s) {', '.join(rules)} "
            f"in {report.wall_s:.0f} s")
    return total


def demo(host: str = "127.0.0.1", port: int = 8000, data_dir: Path | None = None,
         say: Callable[[str], None] = print, serve_forever: bool = True) -> int:
    import uvicorn

    from api.app import create_app, seed_from_config
    from api.settings import Settings

    root = data_dir or Path(os.environ.get("TELLERWATCH_DATA_DIR", "data"))
    base = root / "demo"
    if base.exists():  # the pipeline's files: a rerun starts from a clean slate instead of doubling up
        shutil.rmtree(base)
    os.environ[DEMO_KEY_ENV] = DEMO_KEY
    paths = scene_configs()
    configs = [load_config(p) for p in paths]
    # the database is found as serve and users add find it: TELLERWATCH_DATABASE_URL, else the
    # SQLite file under TELLERWATCH_DATA_DIR
    settings = Settings(env="dev", data_dir=root, evidence_dir=base / "pipeline" / "evidence",
                        ingest_keys=DEMO_KEY, argon2_memory_kib=19 * 1024)
    app = create_app(settings)
    sites = {cfg.site.id for cfg in configs}
    reset_demo_sites(app.state.db, sites)
    for cfg in configs:
        seed_from_config(app.state.db, cfg)
    logins = demo_logins(sorted(sites)[0])
    ensure_demo_users(app.state.db, settings, logins)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="demo-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConfigError(f"the demo server could not listen on {host}:{port} (is the port taken?)")
        time.sleep(0.1)
    url = f"http://{host}:{port}"
    say(f"TellerWatch demo: {url}/  (database {_where(settings)})")
    say(f"logins (password {DEMO_PASSWORD!r} for each):")
    for name, role, site in logins:
        say(f"  {name:<14} {role}{f' of {site}' if site else ''}")
    say(f"running the pipeline over {len(configs)} sample scene(s) with the embedded default detector...")
    total = run_scenes(configs, url, base / "pipeline", say)
    say(f"done: {total} violation(s). Open {url}/ and log in as demo, demo-operator, demo-branch or "
        f"demo-engineer (password {DEMO_PASSWORD}). Ctrl-C stops the demo.")
    if serve_forever:
        try:
            while thread.is_alive():
                thread.join(timeout=1.0)
        except KeyboardInterrupt:
            pass
    server.should_exit = True
    thread.join(timeout=10)
    return total
