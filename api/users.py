"""Creating logins, shared by the admin API and ``tellerwatch users add``."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db import Database
from api.models import Site, User
from api.roles import ROLES, Role
from api.schemas import USERNAME_PATTERN
from api.security import Passwords
from api.settings import Settings
from vision.config import ID_PATTERN

MIN_PASSWORD_LEN = 8


class UserError(ValueError):
    """Bad role, site, name or password, or a name that is taken (``duplicate``)."""

    def __init__(self, message: str, duplicate: bool = False) -> None:
        super().__init__(message)
        self.duplicate = duplicate


def check_user(name: str, role: str, site: str | None, password: str) -> None:
    if not re.match(USERNAME_PATTERN, name):
        raise UserError(f"user name {name!r} must be 1-64 letters, digits, '_', '.', '@' or '-'")
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role == Role.branch_head and not site:
        raise UserError("a branch_head needs --site (the branch they head)")
    if role != Role.branch_head and site:
        raise UserError(f"only branch_head users belong to a site; a {role} sees every site")
    if site is not None and not re.match(ID_PATTERN, site):
        raise UserError(f"site {site!r} is not a valid site id")
    if len(password) < MIN_PASSWORD_LEN:
        raise UserError(f"the password needs at least {MIN_PASSWORD_LEN} characters")


def create_user(
    session: Session, passwords: Passwords, name: str, role: str, site: str | None, password: str
) -> User:
    check_user(name, role, site, password)
    if session.scalars(select(User.id).where(User.username == name)).first() is not None:
        raise UserError(f"user {name!r} exists already", duplicate=True)
    user = User(
        username=name,
        password_hash=passwords.hash(password),
        role=role,
        site=site,
        active=True,
        token_generation=0,
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise UserError(f"user {name!r} exists already", duplicate=True) from None
    return user


def check_known_site(session: Session, site: str) -> None:
    """A branch head's site must be one the database knows (from a pipeline's first report, a
    ``serve --config`` or the demo): a typo would otherwise make a login that sees nothing."""
    if session.get(Site, site) is not None:
        return
    known = list(session.scalars(select(Site.id).order_by(Site.id).limit(11)))
    if not known:
        raise UserError(
            f"unknown site {site!r}: the database knows no site yet (a site is known once its pipeline "
            "reports or `tellerwatch serve --config` names it)"
        )
    listed = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
    raise UserError(f"unknown site {site!r}; known sites: {listed}")


def add_user(settings: Settings, name: str, role: str, site: str | None, password: str) -> None:
    """Create a login in the configured database, migrating it first if it is new."""
    check_user(name, role, site, password)
    db = Database(settings)
    try:
        db.migrate()
        with db.session() as session:
            if site is not None:
                check_known_site(session, site)
            create_user(session, Passwords(settings), name, role, site, password)
    finally:
        db.dispose()
