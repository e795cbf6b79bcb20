"""Login limiting that holds under concurrency and across replicas.

Every attempt is counted in the database, atomically (one ``INSERT .. ON CONFLICT DO UPDATE ..
RETURNING``), *before* the password is hashed, under three keys: username + client address,
client address alone (password spraying across usernames) and username alone (one account
attacked from many addresses). Once a key is over its limit every attempt is refused with 429,
the right password included, without hashing anything. A successful login gives its own attempt
back, so the counters measure failures. Windows are fixed: they start at a key's first attempt
and last ``login_window_s``.

Login's database steps and its hashing run on small pools of their own (4 threads and
``login_hash_concurrency`` threads) with bounded queues, so a flood of logins cannot take every
worker thread or database connection and the rest of the API (``/healthz`` included) keeps
answering; a login that finds a queue full, or waits too long, gets 429.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import case, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.models import LoginAttempt
from api.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: float
    keys: tuple[str, ...]


class LoginLimiter:
    def __init__(self, settings: Settings) -> None:
        self.window_s = settings.login_window_s
        self.limits = (settings.login_max_failures, settings.login_max_failures_ip, settings.login_max_failures_user)

    @staticmethod
    def keys(username: str, ip: str) -> tuple[str, str, str]:
        name = username.casefold()[:64]
        return (f"pair:{name}|{ip[:64]}", f"ip:{ip[:64]}", f"user:{name}")

    def attempt(self, session: Session, username: str, ip: str, now: float | None = None) -> Verdict:
        """Count one attempt under each key (the caller commits); refused once any key is over."""
        now = time.time() if now is None else now
        keys = self.keys(username, ip)
        wait = 0.0
        for key, limit in zip(keys, self.limits, strict=True):
            count, start = self._bump(session, key, now)
            if count > limit:
                wait = max(wait, start + self.window_s - now)
        return Verdict(wait <= 0, max(wait, 0.0), keys)

    def succeeded(self, session: Session, keys: tuple[str, ...]) -> None:
        """A right password gives its attempt back (the caller commits)."""
        session.execute(
            update(LoginAttempt)
            .where(LoginAttempt.key.in_(keys), LoginAttempt.count > 0)
            .values(count=LoginAttempt.count - 1)
        )

    def forget_expired(self, session: Session, now: float | None = None) -> int:
        now = time.time() if now is None else now
        result: Any = session.execute(delete(LoginAttempt).where(LoginAttempt.window_start <= now - self.window_s))
        return int(result.rowcount or 0)

    def _bump(self, session: Session, key: str, now: float) -> tuple[int, float]:
        table: Any = LoginAttempt.__table__
        expired = table.c.window_start <= now - self.window_s
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = (
            insert(table)
            .values(key=key, window_start=now, count=1)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "count": case((expired, 1), else_=table.c["count"] + 1),
                    "window_start": case((expired, now), else_=table.c.window_start),
                },
            )
            .returning(table.c["count"], table.c.window_start)
        )
        count, start = session.execute(stmt).one()
        return int(count), float(start)


class PoolBusy(Exception):
    """No slot came free in time, or the queue is full."""


class BoundedPool:
    """A few threads of its own and a bounded queue in front of them, for work a flood of requests
    must not be allowed to spread over every worker thread and database connection: login's
    database steps and its password hashing each get one."""

    def __init__(self, workers: int, max_waiting: int, wait_s: float) -> None:
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._max_pending = workers + max_waiting
        self._pending = 0
        self._lock = threading.Lock()
        self.wait_s = wait_s

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self._pending >= self._max_pending:
                raise PoolBusy
            self._pending += 1
            if self._pool is None:  # started on first use, again after an app shutdown (tests)
                self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="tw-hash")
            pool = self._pool
        try:
            future = pool.submit(fn, *args)
            try:
                return await asyncio.wait_for(asyncio.wrap_future(future), timeout=self.wait_s)
            except TimeoutError:
                future.cancel()
                raise PoolBusy from None
        finally:
            with self._lock:
                self._pending -= 1

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
