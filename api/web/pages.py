"""The pages: server-rendered shells that check who is logged in, and scripts that call the API.

A page only decides whether to show itself; every piece of data it shows comes from the API with
the session cookie, so roles and site scoping are exactly the API's (a branch head's page cannot
show what the API would not give them). Nothing is loaded from outside the app, so the pages work
on a branch network with no internet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from api import __version__
from api.deps import READERS, SESSION_COOKIE, ZONE_EDITORS, AuthUser, get_principal, get_settings
from api.roles import Role
from api.web import labels
from api.web.labels import Label

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
API_PREFIX = "/api/v1"
LANG_COOKIE = "tw_lang"
LANGS = ("both", "zh", "en")

# Scripts and styles come only from this app; media and images too (blob: for nothing yet, data:
# for the SVG placeholders). No inline script anywhere, so an injected one cannot run.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    roles: tuple[Role, ...]
    title: Label


PAGES = [
    Page("review", "/review", READERS, Label("复核队列", "Review queue")),
    Page("summary", "/summary", READERS, Label("每日汇总", "Daily summary")),
    Page("zones", "/zones", ZONE_EDITORS, Label("区域编辑", "Zone editor")),
    Page("audit", "/audit", (Role.admin,), Label("审计日志", "Audit trail")),
]
PAGE_BY_NAME = {p.name: p for p in PAGES}
# where "/" takes each role: the page of their job
HOME = {Role.operator: "review", Role.branch_head: "summary", Role.engineer: "zones", Role.admin: "review"}


def _asset_version() -> str:
    """Changes whenever a static file does, so browsers never run a stale script after an upgrade."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


ASSET_VERSION = _asset_version()
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals["static"] = lambda name: f"/static/{name}?v={ASSET_VERSION}"
templates.env.globals["version"] = __version__
router = APIRouter(include_in_schema=False)


def safe_next(value: str | None) -> str:
    """Only a path on this site: ``//evil.example`` or ``https://...`` would make the login page
    an open redirect."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 0x20 or c == "\\" for c in value):
        return "/"
    return value


def current_user(request: Request) -> AuthUser | None:
    """The logged-in person, or ``None`` (no cookie, an expired or revoked one, or an API key)."""
    try:
        principal = get_principal(request)
    except HTTPException:
        return None
    return principal if isinstance(principal, AuthUser) else None


def _lang(request: Request) -> str:
    value = request.cookies.get(LANG_COOKIE, "both")
    return value if value in LANGS else "both"


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"/login?next={quote(safe_next(target), safe='/')}", status_code=303)
    if request.cookies.get(SESSION_COOKIE):
        settings = get_settings(request)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure)
    response.headers["Cache-Control"] = "no-store"
    return response


def _render(
    request: Request, template: str, page: str | None, user: AuthUser | None, status: int = 200, **extra: Any
) -> Response:
    nav = [p for p in PAGES if user is not None and user.role in p.roles]
    boot = {
        "api": API_PREFIX,
        "page": page,
        "user": None if user is None else {"username": user.username, "role": user.role, "site": user.site},
        "labels": labels.as_json(),
        **extra.pop("boot", {}),
    }
    context = {
        "page": page,
        "title": PAGE_BY_NAME[page].title if page in PAGE_BY_NAME else Label("登录", "Sign in"),
        "user": user,
        "nav": nav,
        "lang": _lang(request),
        "labels": labels,
        "boot": boot,
        **extra,
    }
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers.update(PAGE_HEADERS)
    return response


def _page(request: Request, name: str) -> Response:
    user = current_user(request)
    if user is None:
        return _to_login(request)
    page = PAGE_BY_NAME[name]
    if user.role not in page.roles:
        return _render(request, "forbidden.html", name, user, status=403, needed=page.roles)
    return _render(request, f"{name}.html", name, user)


@router.get("/")
def home(request: Request) -> Response:
    user = current_user(request)
    if user is None:
        return _to_login(request)
    return RedirectResponse(PAGE_BY_NAME[HOME.get(user.role, "review")].path, status_code=303)


@router.get("/login")
def login_page(request: Request, next_: Annotated[str | None, Query(alias="next")] = None) -> Response:
    target = safe_next(next_)
    user = current_user(request)
    if user is not None and target != "/login":
        return RedirectResponse(target, status_code=303)
    return _render(request, "login.html", None, None, boot={"next": target})


@router.get("/review")
def review_page(request: Request) -> Response:
    return _page(request, "review")


@router.get("/summary")
def summary_page(request: Request) -> Response:
    return _page(request, "summary")


@router.get("/zones")
def zones_page(request: Request) -> Response:
    return _page(request, "zones")


@router.get("/audit")
def audit_page(request: Request) -> Response:
    return _page(request, "audit")


def install(app: FastAPI) -> None:
    """Mount the pages and their static files on the API app."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
