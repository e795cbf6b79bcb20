"""Settings of the API server, read from ``TELLERWATCH_*`` environment variables.

Unsafe defaults are refused outside ``TELLERWATCH_ENV=dev``: a signing key known to everyone or a
cheap password hash would turn a leaked database or a guessable token into site-wide access.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vision.config import ID_PATTERN

DEV_SECRET_KEY = "tellerwatch-dev-only-secret-key-do-not-use-in-production"
MIN_SECRET_LEN = 32
MIN_INGEST_KEY_LEN = 16
# OWASP's floor for Argon2id memory; production may raise it, never lower it.
MIN_ARGON2_MEMORY_KIB = 19 * 1024


class IngestKey(NamedTuple):
    site: str | None  # None: a bare key, which may write any site
    key: str


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TELLERWATCH_", extra="ignore")

    env: Literal["dev", "production"] = Field(
        "production", description="'dev' allows the built-in secret key and cheap password hashing"
    )
    data_dir: Path = Field(Path("data"), description="runtime data: SQLite file, evidence, camera frames")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file under data_dir")
    ingest_keys: str = Field(
        "",
        description="comma-separated API keys pipelines send as X-API-Key; SITE:KEY binds a key to one site",
    )
    secret_key: SecretStr | None = Field(None, description="signs login tokens; required outside dev")
    token_ttl_s: int = Field(8 * 3600, ge=60, le=30 * 86400)
    evidence_dir: Path | None = Field(None, description="clips and snapshots; default data_dir/evidence")
    max_upload_bytes: int = Field(256 * 1024 * 1024, ge=1024, description="largest POST /events body")
    max_frame_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="largest camera frame upload")
    max_json_bytes: int = Field(1024 * 1024, ge=1024, description="largest body of any other request")
    cookie_secure: bool = Field(False, description="mark the session cookie Secure (serve over HTTPS)")
    forwarded_allow_ips: str = Field(
        "",
        description="reverse proxies (comma-separated addresses) whose X-Forwarded-For / -Proto are trusted, so "
        "the login limiter and the audit trail see the client's address; empty: no proxy headers are trusted",
    )
    login_max_failures: int = Field(5, ge=1, le=1000, description="failed logins per username+IP per window")
    login_max_failures_ip: int = Field(
        20, ge=1, le=100_000, description="failed logins per client address per window (any usernames)"
    )
    login_max_failures_user: int = Field(
        50, ge=1, le=100_000, description="failed logins per username per window (any addresses)"
    )
    login_window_s: float = Field(60.0, gt=0, le=86400)
    login_hash_concurrency: int = Field(
        2, ge=1, le=64, description="password hashes computed at once; more logins wait their turn"
    )
    login_hash_wait_s: float = Field(
        20.0, gt=0, le=120, description="longest a login waits for a hashing or database slot (then 429)"
    )
    audit_retention_days: int = Field(365, ge=180, le=36500, description="audit rows older than this are pruned")
    evidence_retention_days: float = Field(
        30.0, ge=0, le=36500,
        description="serve deletes evidence files older than this from its evidence folder (records stay; 0: "
        "never); with --config, the longest of this and the cameras' evidence.retention_days",
    )
    retention_interval_s: float = Field(
        600.0, ge=1, le=86400, description="how often serve deletes expired evidence and privacy exports"
    )
    argon2_time_cost: int = Field(3, ge=1, le=20)
    argon2_memory_kib: int = Field(64 * 1024, ge=8, description="Argon2id memory per hash, KiB")
    argon2_parallelism: int = Field(4, ge=1, le=16)
    live_queue_size: int = Field(256, ge=1, le=100_000, description="per-subscriber backlog before dropping")
    live_heartbeat_s: float = Field(15.0, gt=0, le=300)

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_addresses(cls, v: str) -> str:
        for entry in (e.strip() for e in v.split(",")):
            if entry and entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    msg = f"{entry!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/24)"
                    raise ValueError(msg) from None
        return v

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.env == "dev":
            return self
        secret = self.secret_key.get_secret_value() if self.secret_key else ""
        if len(secret) < MIN_SECRET_LEN:
            raise ValueError(
                f"TELLERWATCH_SECRET_KEY must be set to at least {MIN_SECRET_LEN} random characters "
                "(or set TELLERWATCH_ENV=dev for a local trial)"
            )
        short = [k.key for k in self.ingest_key_entries if len(k.key) < MIN_INGEST_KEY_LEN]
        if short:
            raise ValueError(
                f"TELLERWATCH_INGEST_KEYS: each key needs at least {MIN_INGEST_KEY_LEN} characters"
            )
        if self.argon2_memory_kib < MIN_ARGON2_MEMORY_KIB:
            raise ValueError(
                f"TELLERWATCH_ARGON2_MEMORY_KIB={self.argon2_memory_kib} is below {MIN_ARGON2_MEMORY_KIB}; "
                "cheap hashes are for TELLERWATCH_ENV=dev only"
            )
        return self

    @model_validator(mode="after")
    def _ingest_key_sites(self) -> Settings:
        self.ingest_key_entries  # noqa: B018 - raises on a malformed SITE:KEY entry
        return self

    @property
    def ingest_key_entries(self) -> list[IngestKey]:
        """``SITE:KEY`` entries are bound to SITE; a bare ``KEY`` may write any site."""
        entries = []
        for raw in self.ingest_keys.split(","):
            raw = raw.strip()
            if not raw:
                continue
            site, sep, key = raw.partition(":")
            if not sep:
                entries.append(IngestKey(None, raw))
                continue
            site, key = site.strip(), key.strip()
            if not re.match(ID_PATTERN, site) or not key:
                raise ValueError(
                    "TELLERWATCH_INGEST_KEYS: write each entry as SITE:KEY (site id of letters, digits, "
                    "'_', '.', '-') or a bare KEY"
                )
            entries.append(IngestKey(site, key))
        return entries

    @property
    def ingest_key_list(self) -> list[str]:
        return [k.key for k in self.ingest_key_entries]

    @property
    def bare_ingest_keys(self) -> int:
        return sum(1 for k in self.ingest_key_entries if k.site is None)

    @property
    def secret(self) -> bytes:
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value().encode()
        return DEV_SECRET_KEY.encode()

    @property
    def db_url(self) -> str:
        """The URL to connect to; bare ``postgresql://`` means psycopg 3, the driver we ship."""
        if not self.database_url:
            return f"sqlite:///{(self.data_dir / 'tellerwatch.sqlite3').resolve()}"
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def evidence_path(self) -> Path:
        return (self.evidence_dir or self.data_dir / "evidence").resolve()

    @property
    def frames_path(self) -> Path:
        return (self.data_dir / "frames").resolve()

    @property
    def exports_path(self) -> Path:
        """Evidence re-encoded for export (``?privacy=blur``): a cache, safe to delete."""
        return (self.data_dir / "exports").resolve()
