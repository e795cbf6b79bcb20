"""Password hashing (Argon2id) and signed, expiring login tokens.

Tokens are ``base64url(json payload).base64url(HMAC-SHA256)``: stateless so the live stream and
clip downloads need no session table, yet each carries the user's token generation so that a
password change or removal revokes every token already handed out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from api.settings import Settings

TOKEN_VERSION = 1


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


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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
        "exp": issued + ttl_s,
    }
    body = _b64e(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    sig = _b64e(hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest())
    return f"{body}.{sig}"


def verify_token(secret: bytes, token: str, now: float | None = None) -> TokenClaims | None:
    """The claims of a genuine, unexpired token; ``None`` for anything else, without saying why."""
    if len(token) > 2048 or token.count(".") != 1:
        return None
    body, sig = token.split(".")
    expected = _b64e(hmac.new(secret, body.encode("ascii", "replace"), hashlib.sha256).digest())
    if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
        return None
    try:
        payload = json.loads(_b64d(body))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION:
        return None
    try:
        claims = TokenClaims(
            int(payload["uid"]), str(payload["sub"]), int(payload["gen"]), float(payload["exp"])
        )
    except (KeyError, TypeError, ValueError):
        return None
    if claims.expires_at <= (time.time() if now is None else now):
        return None
    return claims


def key_matches(candidate: str, keys: list[str]) -> bool:
    """Constant-time membership so response timing does not leak how much of a key was right."""
    cand = candidate.encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(cand, key.encode())
    return found
