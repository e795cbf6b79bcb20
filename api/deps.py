"""Request dependencies: settings, database session, who is calling, and what they may do.

Who may do what (``own`` = only the site the user belongs to; another site's single items answer
404 so their existence is not revealed, an explicit other ``site=`` filter answers 403):

=====================================  =====  ========  ===========  ===========  ========  =====
route                                  anon   API key   operator     branch_head  engineer  admin
=====================================  =====  ========  ===========  ===========  ========  =====
GET  /healthz                          yes    yes       yes          yes          yes       yes
GET  /metrics (Prometheus)             401    yes       403          403          yes       yes
POST /api/v1/auth/login, /auth/logout  yes    yes       yes          yes          yes       yes
GET  /api/v1/auth/me                   401    403       yes          yes          yes       yes
POST /api/v1/events                    401    yes       403          403          403       403
POST /api/v1/metrics/pipeline          401    yes       403          403          403       403
POST /api/v1/cameras/{id}/frame        401    yes       403          403          403       403
GET  /api/v1/violations[/{id}]         401    403       all sites    own          all       all
GET  /api/v1/violations/{id}/clip|snapshot  401  403    all sites    own          all       all
PATCH /api/v1/violations/{id} (review) 401    403       all sites    own          403       all
PATCH /api/v1/violations (bulk review)  401    403       all sites    own          403       all
GET  /api/v1/summaries/daily           401    403       all sites    own          all       all
GET  /api/v1/live (SSE)                401    403       all sites    own          all       all
GET  /api/v1/cameras                   401    403       all sites    own          all       all
GET  /api/v1/cameras/{id}/zones        401    yes       all sites    own          all       all
PUT  /api/v1/cameras/{id}/zones        401    403       403          403          all       all
GET  /api/v1/cameras/{id}/snapshot     401    403       all sites    own          all       all
GET|POST /api/v1/users, DELETE /users/{name}  401  403  403          403          403       all
GET  /api/v1/audit                     401    403       403          403          403       all
POST /api/v1/audit/print               401    403       yes          yes          yes       yes
=====================================  =====  ========  ===========  ===========  ========  =====

An API key written ``SITE:KEY`` in ``TELLERWATCH_INGEST_KEYS`` writes only SITE (events, camera
status, frames) and reads only SITE's zones (403 otherwise); a bare key writes any site.

A user authenticates with ``Authorization: Bearer <token>`` or the ``tw_session`` cookie; a
pipeline with ``X-API-Key`` (or ``Authorization: Bearer <ingest key>``, which is what Prometheus
scrape configs send). A credential that is present but invalid answers 401 rather than being
ignored, so a typo in a key never silently downgrades a caller to anonymous.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from api.db import Database
from api.models import User
from api.roles import Role
from api.security import key_index, verify_token
from api.settings import Settings

SESSION_COOKIE = "tw_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_session(request: Request) -> Iterator[Session]:
    with get_db(request).session() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A pipeline authenticated by an ingest key; it may push, never read violations.

    ``site`` is the site a ``SITE:KEY`` entry binds the key to; ``None`` for a bare key, which may
    write any site (single-box installs)."""

    name: str = "pipeline"
    site: str | None = None

    def may_write(self, site: str) -> bool:
        return self.site is None or self.site == site

    def check_site(self, site: str) -> None:
        """403 unless this key may write ``site``."""
        if not self.may_write(site):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this API key is bound to site {self.site!r}; it may not write {site!r}"
            )


@dataclass(frozen=True, slots=True)
class AuthUser:
    id: int
    username: str
    role: Role
    site: str | None
    via_cookie: bool

    def sees_all_sites(self) -> bool:
        return self.role != Role.branch_head


Principal = Pipeline | AuthUser


def _unauthorized(message: str = "not authenticated") -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def _same_origin(request: Request) -> bool:
    """Cookie-authenticated writes must come from our own pages (defence in depth over SameSite=Lax)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


def _resolve(request: Request) -> Principal | None:
    settings = get_settings(request)
    entries = settings.ingest_key_entries
    keys = [e.key for e in entries]
    api_key = request.headers.get("x-api-key")
    if api_key is not None:
        found = key_index(api_key, keys)
        if found is not None:
            return Pipeline(site=entries[found].site)
        raise _unauthorized("invalid API key")
    token: str | None = None
    via_cookie = False
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("use 'Authorization: Bearer <token>'")
        token = value.strip()
        found = key_index(token, keys)
        if found is not None:
            return Pipeline(site=entries[found].site)
    else:
        token = request.cookies.get(SESSION_COOKIE)
        via_cookie = token is not None
    if token is None:
        return None
    claims = verify_token(settings.secret, token)
    if claims is None:
        raise _unauthorized("invalid or expired token")
    # a short session of its own: the live stream must not pin a pooled connection for hours
    with get_db(request).session() as session:
        user = session.get(User, claims.user_id)
        if user is None or not user.active or user.token_generation != claims.generation:
            raise _unauthorized("invalid or expired token")
        principal = AuthUser(user.id, user.username, Role(user.role), user.site, via_cookie)
    if via_cookie and request.method not in SAFE_METHODS and not _same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused")
    return principal


def get_principal(request: Request) -> Principal | None:
    return _resolve(request)


def require_user(request: Request) -> AuthUser:
    principal = _resolve(request)
    if principal is None:
        raise _unauthorized()
    if isinstance(principal, Pipeline):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "API keys may only push events, frames and metrics")
    return principal


def require_pipeline(request: Request) -> Pipeline:
    principal = _resolve(request)
    if principal is None:
        raise _unauthorized("X-API-Key required")
    if not isinstance(principal, Pipeline):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only pipelines (X-API-Key) may use this route")
    return principal


CurrentUser = Annotated[AuthUser, Depends(require_user)]
PipelineDep = Annotated[Pipeline, Depends(require_pipeline)]
OptionalPrincipal = Annotated[Principal | None, Depends(get_principal)]


def require_role(*roles: Role) -> Callable[[AuthUser], AuthUser]:
    """A dependency that admits only the named roles (403 for the others)."""
    allowed = frozenset(roles)

    def check(user: CurrentUser) -> AuthUser:
        if user.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {user.role.value!r} may not do this")
        return user

    return check


def require_user_or_pipeline(*roles: Role) -> Callable[[Request], Principal]:
    allowed = frozenset(roles)

    def check(request: Request) -> Principal:
        principal = _resolve(request)
        if principal is None:
            raise _unauthorized()
        if isinstance(principal, AuthUser) and principal.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role.value!r} may not do this")
        return principal

    return check


READERS = (Role.operator, Role.branch_head, Role.engineer, Role.admin)
REVIEWERS = (Role.operator, Role.branch_head, Role.admin)
ZONE_EDITORS = (Role.engineer, Role.admin)
METRICS_READERS = (Role.engineer, Role.admin)

Reader = Annotated[AuthUser, Depends(require_role(*READERS))]
Reviewer = Annotated[AuthUser, Depends(require_role(*REVIEWERS))]
ZoneEditor = Annotated[AuthUser, Depends(require_role(*ZONE_EDITORS))]
Admin = Annotated[AuthUser, Depends(require_role(Role.admin))]


def scoped_site(user: AuthUser, requested: str | None) -> str | None:
    """The site filter a user's query runs with: a branch head always sees only their own site."""
    if user.sees_all_sites():
        return requested
    if requested is not None and requested != user.site:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "branch heads see only their own site")
    return user.site


def may_see_site(user: AuthUser, site: str) -> bool:
    return user.sees_all_sites() or user.site == site


QUERY_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
QUERY_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def query_time(ts: datetime | None, name: str) -> datetime | None:
    """A time from a query string: without an offset it is UTC; outside 2000-2100 it is refused
    with 422 (strict input), since a database cannot always hold it in UTC (year 1 at +00:01)."""
    if ts is None:
        return None
    aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    if not (QUERY_EARLIEST <= aware <= QUERY_LATEST):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, f"{name} must lie between the years 2000 and 2100")
    return aware
