"""The application factory: settings in, a ready FastAPI app out (schema migrated)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.responses import JSONResponse

from api import __version__
from api.audit import AuditLog
from api.db import Database
from api.ingest import ensure_camera, ensure_site
from api.limits import BodySizeLimit, BodyTooLarge, SecurityHeaders
from api.live import Broadcaster, attach_relay
from api.metrics import ApiMetrics
from api.models import utcnow
from api.ratelimit import BoundedPool, LoginLimiter
from api.retention import RetentionTask
from api.routers import audit as audit_routes
from api.routers import auth, cameras, events, health, live, summaries, users, violations
from api.schemas import LoginRequest, ViolationIn
from api.security import Passwords
from api.settings import Settings
from api.strict import StrictInput, json_safe
from api.web import pages as web
from vision.config import AppConfig

API_PREFIX = "/api/v1"
LOGIN_DB_THREADS = 4  # of the engine's pool (PostgreSQL: 10 + 10 overflow), at most this many for logins


def _body_limits(settings: Settings) -> Any:
    def limit_for(method: str, path: str) -> int:
        if method == "POST" and path == f"{API_PREFIX}/events":
            return settings.max_upload_bytes
        if method == "POST" and path.startswith(f"{API_PREFIX}/cameras/") and path.endswith("/frame"):
            return settings.max_frame_bytes
        return settings.max_json_bytes

    return limit_for


def seed_from_config(db: Database, config: AppConfig) -> None:
    """Register the config's site (with its IANA time zone) and cameras; zones the editor has not
    touched yet start as the config file's."""
    with db.session() as session:
        ensure_site(session, config.site.id, timezone=config.site.timezone)
        for cam_cfg in config.cameras:
            cam = ensure_camera(session, config.site.id, cam_cfg.id)
            if cam.zones is None and cam_cfg.zones:
                cam.zones = [z.model_dump(mode="json") for z in cam_cfg.zones]
                cam.zones_version = 1
                cam.zones_updated_at = utcnow()
                cam.zones_updated_by = "config"
        session.commit()


def _openapi(app: FastAPI) -> Any:
    """Add the schemas that hand-parsed bodies (ingest, login) refer to, for /docs and fuzzers."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (ViolationIn, LoginRequest):
            js = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in js.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components[model.__name__] = js
        app.openapi_schema = schema
        return schema

    return build


def create_app(settings: Settings | None = None, config: AppConfig | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.evidence_path.mkdir(parents=True, exist_ok=True)
    db = Database(settings)
    db.migrate()
    if config is not None:
        seed_from_config(db, config)

    audit = AuditLog(settings.audit_retention_days)
    with db.session() as session:
        audit.prune(session)
        session.commit()
    hash_pool = BoundedPool(settings.login_hash_concurrency, max_waiting=32, wait_s=settings.login_hash_wait_s)
    login_db_pool = BoundedPool(LOGIN_DB_THREADS, max_waiting=256, wait_s=settings.login_hash_wait_s)

    metrics = ApiMetrics()
    live_stream = Broadcaster(settings.live_queue_size, metrics.live_subscribers, metrics.live_dropped)
    relay = attach_relay(db, live_stream)  # PostgreSQL: every replica's subscribers get every change
    retention = RetentionTask(settings, config)  # expired evidence and exports, every few minutes

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if relay is not None:
            relay.start()
        retention.start()
        yield
        await retention.stop()
        if relay is not None:
            relay.stop()
        hash_pool.shutdown()
        login_db_pool.shutdown()
        db.dispose()

    app = FastAPI(
        title="TellerWatch API",
        version=__version__,
        description="Violations from the teller-counter cameras: ingest, review, summaries, live stream.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.config = config  # its cameras' rules check zones edited in the page
    app.state.db = db
    app.state.metrics = metrics
    app.state.passwords = Passwords(settings)
    app.state.login_limiter = LoginLimiter(settings)
    app.state.hash_pool = hash_pool
    app.state.login_db_pool = login_db_pool
    app.state.audit = audit
    app.state.live = live_stream
    app.state.live_relay = relay
    app.state.retention = retention

    def count_too_large(path: str) -> None:
        if path == f"{API_PREFIX}/events":
            metrics.ingest.labels("too_large").inc()

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        count_too_large(request.url.path)
        return JSONResponse({"detail": str(exc)}, status_code=413, headers={"Connection": "close"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's own handler echoes the refused value, which may be one JSON cannot carry."""
        return JSONResponse({"detail": json_safe(jsonable_encoder(exc.errors()))}, status_code=422)

    # innermost first: strict input sees the body after the size limit has
    app.add_middleware(StrictInput)
    app.add_middleware(BodySizeLimit, limit_for=_body_limits(settings), on_reject=count_too_large)
    app.add_middleware(SecurityHeaders)

    app.include_router(health.router)
    for module in (events, violations, summaries, auth, cameras, live, users, audit_routes):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(cameras.metrics_router, prefix=API_PREFIX)
    web.install(app)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory api.app:create_app_from_env``."""
    return create_app(Settings())
