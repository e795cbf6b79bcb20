"""What ``tellerwatch serve`` and ``tellerwatch users add`` call; errors arrive as one-line
``TellerWatchError`` / ``ValueError`` messages for the CLI to print, never tracebacks."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from api.settings import Settings
from vision.errors import ConfigError

if TYPE_CHECKING:
    from api.verify import Report
log = logging.getLogger("tellerwatch.api")


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; a bad or unsafe value becomes a ``ConfigError``."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"TELLERWATCH_{where.upper()}: {msg}" if where else msg)
        raise ConfigError("; ".join(problems), problems) from None


def serve(
    config_path: str | Path | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    settings: Settings | None = None,
) -> None:
    """Run the API (and, later, the web pages) until interrupted.

    With a config file the site's time zone and the cameras' zones are registered, so summaries
    use the site's IANA zone and the zone editor starts from the file's polygons.
    """
    import uvicorn

    from api.app import create_app
    from vision.config import load_config

    settings = settings or load_settings()
    config = load_config(config_path, check_files=False) if config_path is not None else None
    warn_bare_keys(settings)
    try:
        app = create_app(settings, config)
    except OperationalError as exc:
        raise _unreachable(settings, exc) from None
    proxies = settings.forwarded_allow_ips.strip()
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=bool(proxies),  # behind a reverse proxy every client would share its address
        forwarded_allow_ips=proxies or None,
        timeout_graceful_shutdown=5,
        log_level="info",
    )


def database_settings() -> Settings:
    """Settings for commands that only write the database (``users add``): the same database as
    ``serve`` and ``demo`` (``TELLERWATCH_DATABASE_URL``, else the SQLite file under
    ``TELLERWATCH_DATA_DIR``) and the same password-hash cost, but no signing key is needed, since
    such a command signs nothing; a throwaway one stands in where none is set."""
    if os.environ.get("TELLERWATCH_SECRET_KEY"):
        return load_settings()
    return load_settings(secret_key=secrets.token_urlsafe(48))
def warn_bare_keys(settings: Settings) -> int:
    """Logs how many ingest keys are not bound to a site (each may write every site's records)."""
    bare = settings.bare_ingest_keys
    if bare:
        log.warning(
            "TELLERWATCH_INGEST_KEYS has %d bare key(s) that may write any site; bind each pipeline's key "
            "to its site as SITE:KEY",
            bare,
        )
    return bare


def users_add(name: str, role: str, site: str | None, password: str) -> None:
    """Create a login; ``ValueError`` (``api.users.UserError``) on a bad role, an unknown site or a
    taken name."""
    from api.users import add_user

    settings = database_settings()
    try:
        add_user(settings, name, role, site, password)
    except OperationalError as exc:
        raise _unreachable(settings, exc) from None


def verify_evidence(data_dir: Path | None, database_url: str | None) -> Report:
    """``api.verify.Report`` for the data dir's (or ``$TELLERWATCH_*``'s) database and evidence
    folder; ``ConfigError`` on a bad setting, a missing folder or an unusable database."""
    from api.verify import verify

    overrides: dict[str, object] = {"env": "dev"}  # nothing is signed or hashed for users here
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    return verify(load_settings(**overrides))


def _unreachable(settings: Settings, exc: OperationalError) -> ConfigError:
    where = make_url(settings.db_url).render_as_string(hide_password=True)
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    msg = f"cannot use the database {where}: {reason}"
    return ConfigError(msg, [msg])
