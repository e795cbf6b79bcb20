"""Login for people: a bearer token for scripts, the same token as a session cookie for the pages."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import select

from api import strict
from api.audit import AuditLog, client_ip
from api.deps import SESSION_COOKIE, CurrentUser, get_db, get_settings
from api.metrics import ApiMetrics
from api.models import User
from api.ratelimit import BoundedPool, LoginLimiter, PoolBusy, Verdict
from api.schemas import LoginRequest, TokenPublic, UserPublic
from api.security import Passwords, create_token

T = TypeVar("T")
router = APIRouter(prefix="/auth", tags=["auth"])

LOGIN_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/LoginRequest"}},
        "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/LoginRequest"}},
    },
}


async def _credentials(request: Request) -> LoginRequest:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data: Any
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        async with request.form(max_files=0, max_fields=8) as form:
            data = {k: v for k, v in form.items() if k in ("username", "password") and isinstance(v, str)}
    else:
        try:
            data = strict.loads(await request.body() or b"null")
        except strict.StrictInputError as exc:
            raise RequestValidationError(
                [{"type": "json_invalid", "loc": ("body",), "msg": str(exc), "input": None}]
            ) from None
    try:
        return LoginRequest.model_validate(data)
    except ValidationError as exc:
        errors = [
            {**e, "loc": ("body", *e["loc"]), "ctx": {k: str(v) for k, v in e.get("ctx", {}).items()}}
            for e in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors) from None


@router.post(
    "/login",
    response_model=TokenPublic,
    openapi_extra={"requestBody": LOGIN_BODY},
    responses={
        401: {"description": "wrong username or password"},
        429: {"description": "too many failed attempts; see Retry-After"},
    },
)
async def login(request: Request, response: Response) -> TokenPublic:
    """Attempts are counted (in the database, before any hashing) per username + client address,
    per address and per username; while limited even the right password is refused, otherwise the
    limit would only slow guessing, not stop it."""
    creds = await _credentials(request)
    settings = get_settings(request)
    limiter: LoginLimiter = request.app.state.login_limiter
    metrics: ApiMetrics = request.app.state.metrics
    audit: AuditLog = request.app.state.audit
    hashing: BoundedPool = request.app.state.hash_pool
    db_work: BoundedPool = request.app.state.login_db_pool
    ip = client_ip(request)
    db = get_db(request)

    def count_attempt() -> tuple[Verdict, str | None, int | None]:
        with db.session() as session:
            verdict = limiter.attempt(session, creds.username, ip)
            if not verdict.allowed:
                audit.add(session, request, "login_failed", username=creds.username, detail="too many attempts")
                session.commit()
                return verdict, None, None
            session.commit()
            user = session.scalars(select(User).where(User.username == creds.username)).one_or_none()
            if user is None:
                return verdict, None, None
            return verdict, user.password_hash, user.id

    verdict, stored_hash, user_id = await _pooled(db_work, metrics, count_attempt)
    if not verdict.allowed:
        metrics.logins.labels("limited").inc()
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed logins; try again later",
            headers={"Retry-After": str(int(verdict.retry_after_s) + 1)},
        )
    passwords: Passwords = request.app.state.passwords
    ok = await _pooled(hashing, metrics, passwords.verify, stored_hash, creds.password)

    def finish() -> tuple[UserPublic, str] | None:
        with db.session() as session:
            user = session.get(User, user_id) if ok and user_id is not None else None
            if user is None or not user.active or user.password_hash != stored_hash:
                audit.add(
                    session, request, "login_failed", username=creds.username, detail="wrong username or password"
                )
                session.commit()
                return None
            limiter.succeeded(session, verdict.keys)
            audit.add(session, request, "login", user=user, site=user.site)
            session.commit()
            token = create_token(settings.secret, user.id, user.username, user.token_generation, settings.token_ttl_s)
            public = UserPublic(
                username=user.username,
                role=user.role,
                site=user.site,  # type: ignore[arg-type]
                active=user.active,
            )
            return public, token

    checked = await _pooled(db_work, metrics, finish)
    if checked is None:
        metrics.logins.labels("failed").inc()
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "wrong username or password", headers={"WWW-Authenticate": "Bearer"}
        )
    if passwords.needs_rehash(stored_hash or ""):
        await _upgrade_hash(request, user_id, stored_hash, creds.password)
    metrics.logins.labels("ok").inc()
    public, token = checked
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.token_ttl_s,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    response.headers["Cache-Control"] = "no-store"
    return TokenPublic(access_token=token, expires_in=settings.token_ttl_s, user=public)


async def _pooled(pool: BoundedPool, metrics: ApiMetrics, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on a bounded pool; a full pool is a 429 (see ``_busy``)."""
    try:
        return await pool.run(fn, *args)
    except PoolBusy:
        raise _busy(metrics) from None


async def _upgrade_hash(request: Request, user_id: int | None, stored_hash: str | None, password: str) -> None:
    """Store the password under the current hashing parameters, unless someone changed it meanwhile."""
    db = get_db(request)
    passwords: Passwords = request.app.state.passwords
    hashing: BoundedPool = request.app.state.hash_pool
    db_work: BoundedPool = request.app.state.login_db_pool

    def rehash(new_hash: str) -> None:
        with db.session() as session:
            user = session.get(User, user_id)
            if user is not None and user.password_hash == stored_hash:
                user.password_hash = new_hash
                session.commit()

    with contextlib.suppress(PoolBusy):  # the old hash still works; the next login upgrades it
        await db_work.run(rehash, await hashing.run(passwords.hash, password))


def _busy(metrics: ApiMetrics) -> HTTPException:
    """Too many logins at once (a flood): refused like a limited attempt, so clients back off."""
    metrics.logins.labels("busy").inc()
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS, "too many logins at once; try again shortly", headers={"Retry-After": "5"}
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request) -> Response:
    """Forgets the cookie; bearer tokens simply expire (or are revoked by removing the user)."""
    settings = get_settings(request)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure
    )
    return response


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    return UserPublic(username=user.username, role=user.role, site=user.site)  # type: ignore[arg-type]
