"""User administration for admins (the CLI's ``tellerwatch users add`` does the same offline)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from sqlalchemy import select
from starlette.responses import Response

from api.audit import AuditLog
from api.deps import Admin, SessionDep
from api.models import User
from api.schemas import USERNAME_PATTERN, UserCreate, UserPublic
from api.security import Passwords
from api.users import UserError, create_user

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserPublic])
def list_users(session: SessionDep, _: Admin) -> list[UserPublic]:
    return [
        UserPublic(username=u.username, role=u.role, site=u.site, active=u.active)  # type: ignore[arg-type]
        for u in session.scalars(select(User).order_by(User.username))
    ]


@router.post(
    "",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "username taken"}},
)
def add_user(body: UserCreate, request: Request, session: SessionDep, admin: Admin) -> UserPublic:
    passwords: Passwords = request.app.state.passwords
    try:
        user = create_user(session, passwords, body.username, body.role, body.site, body.password)
    except UserError as exc:
        code = status.HTTP_409_CONFLICT if exc.duplicate else 422
        raise HTTPException(code, str(exc)) from None
    audit: AuditLog = request.app.state.audit
    audit.add(
        session, request, "create_user", user=admin, site=user.site, detail=f"{user.username} ({user.role})"
    )
    session.commit()
    return UserPublic(username=user.username, role=user.role, site=user.site)  # type: ignore[arg-type]


@router.delete("/{username}", status_code=status.HTTP_204_NO_CONTENT)
def remove_user(
    username: Annotated[str, Path(pattern=USERNAME_PATTERN)], request: Request, session: SessionDep, admin: Admin
) -> Response:
    """Deactivates rather than deletes, so past reviews still name their reviewer; the user's
    tokens stop working at once."""
    if username == admin.username:
        raise HTTPException(status.HTTP_409_CONFLICT, "admins cannot remove themselves")
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {username}")
    user.active = False
    user.token_generation += 1
    audit: AuditLog = request.app.state.audit
    audit.add(session, request, "remove_user", user=admin, site=user.site, detail=f"{user.username} ({user.role})")
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
