"""Password hashing (Argon2id) and signed, expiring login tokens (JWT, HS256, through PyJWT).

Tokens are stateless so the live stream and clip downloads need no session table, yet each
carries the user's token generation so that a password change or removal revokes every token
already handed out.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from api.settings import Settings

TOKEN_VERSION = 2
ALGORITHM = "HS256"
MAX_TOKEN_LEN = 2048


def password_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


class Passwords:
    """Hashing plus a fixed dummy hash, so an unknown username costs as much time as a wrong password."""

    def __init__(self, settings: Settings) -> None:
        self._ph = password_hasher(settings)
        self._dummy = self._ph.hash("tellerwatch-dummy-password")

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._ph.verify(stored_hash or self._dummy, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._ph.check_needs_rehash(stored_hash)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    username: str
    generation: int
    expires_at: float


def create_token(
    secret: bytes, user_id: int, username: str, generation: int, ttl_s: float, now: float | None = None
) -> str:
    issued = time.time() if now is None else now
    payload = {
        "v": TOKEN_VERSION,
        "uid": user_id,
        "sub": username,
        "gen": generation,
        "iat": int(issued),
        "exp": int(issued + ttl_s),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify_token(secret: bytes, token: str, now: float | None = None) -> TokenClaims | None:
    """The claims of a genuine, unexpired token; ``None`` for anything else, without saying why.

    Only HS256 is accepted (never ``none`` or a key-confusion algorithm); ``exp`` is required.
    """
    if not token or len(token) > MAX_TOKEN_LEN:
        return None
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            # expiry is checked below against this module's clock (one clock for issuing and checking)
            options={"require": ["exp", "iat", "sub"], "verify_exp": False, "verify_iat": False},
        )
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION:
        return None
    try:
        claims = TokenClaims(int(payload["uid"]), str(payload["sub"]), int(payload["gen"]), float(payload["exp"]))
    except (KeyError, TypeError, ValueError):
        return None
    if claims.expires_at <= (time.time() if now is None else now):
        return None
    return claims


def key_matches(candidate: str, keys: list[str]) -> bool:
    """Constant-time membership so response timing does not leak how much of a key was right."""
    return key_index(candidate, keys) is not None


def key_index(candidate: str, keys: list[str]) -> int | None:
    """Which key (by position) the candidate is, compared in constant time over all keys."""
    cand = candidate.encode("utf-8", "surrogatepass")
    found: int | None = None
    for i, key in enumerate(keys):
        if hmac.compare_digest(cand, key.encode("utf-8", "surrogatepass")) and found is None:
            found = i
    return found
