"""Units under the API: tokens, password hashing, the login limiter, ranges, evidence paths."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fastapi import HTTPException

from api import evidence
from api.security import Passwords, create_token, key_matches, password_hasher, verify_token
from api.settings import Settings

SECRET = b"s" * 40


def test_token_round_trip_and_expiry() -> None:
    now = 1_000_000.0
    token = create_token(SECRET, 7, "op", 2, 60, now=now)
    claims = verify_token(SECRET, token, now=now + 59)
    assert claims is not None and (claims.user_id, claims.username, claims.generation) == (7, "op", 2)
    assert verify_token(SECRET, token, now=now + 61) is None
    assert verify_token(b"t" * 40, token, now=now) is None


@pytest.mark.parametrize(
    "token",
    ["", ".", "a.b.c", "x" * 3000, "eyJ2IjoxfQ.", "bm90IGpzb24.AAAA", "é.é"],
    ids=["empty", "dot", "three-parts", "huge", "no-sig", "bad-sig", "non-ascii"],
)
def test_malformed_tokens_are_rejected(token: str) -> None:
    assert verify_token(SECRET, token) is None


def test_payload_cannot_be_edited() -> None:
    import base64
    import json

    token = create_token(SECRET, 7, "op", 0, 60)
    header, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["uid"] = 1
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert verify_token(SECRET, f"{header}.{forged}.{sig}") is None


@pytest.mark.parametrize("alg", ["none", "HS512"])
def test_tokens_of_another_algorithm_are_rejected(alg: str) -> None:
    """PyJWT is told to accept HS256 only: an unsigned ('none') or re-signed token is refused."""
    import jwt

    payload = {"v": 2, "uid": 1, "sub": "adm", "gen": 0, "iat": int(time.time()), "exp": int(time.time()) + 60}
    token = jwt.encode(payload, None if alg == "none" else SECRET, algorithm=alg)
    assert verify_token(SECRET, token) is None
    assert verify_token(SECRET, jwt.encode(payload, SECRET, algorithm="HS256")) is not None

def test_passwords_hash_and_verify() -> None:
    s = Settings(env="dev", argon2_time_cost=1, argon2_memory_kib=64, argon2_parallelism=1)
    pw = Passwords(s)
    h = pw.hash("a good password")
    assert h.startswith("$argon2id$") and "a good password" not in h
    assert pw.verify(h, "a good password")
    assert not pw.verify(h, "a bad password")
    assert not pw.verify(None, "anything")
    assert not pw.verify("not a hash", "anything")
    stronger = Passwords(Settings(env="dev", argon2_time_cost=2, argon2_memory_kib=128, argon2_parallelism=1))
    assert stronger.needs_rehash(h)


def test_production_hash_defaults_are_memory_hard() -> None:
    ph = password_hasher(Settings(env="production", secret_key="k" * 40))
    assert ph.memory_cost >= 64 * 1024 and ph.time_cost >= 3 and ph.type.name == "ID"


def test_key_matches() -> None:
    assert key_matches("abc", ["x", "abc"])
    assert not key_matches("ab", ["abc"])
    assert not key_matches("", [])


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=9-", 10, (9, 9)),
        ("bytes=-20", 10, (0, 9)),
        ("bytes= 2 - 4 ", 10, (2, 4)),
        ("bytes=0-1,3-4", 10, None),
        ("bytes=10-", 10, 416),
        ("bytes=-", 10, 416),
        ("bytes=", 10, 416),
        ("bytes=a-b", 10, 416),
        ("bytes=0-0", 0, 416),
        ("bytes=-5", 0, 416),
        ("pages=1-2", 10, 416),
    ],
)
def test_parse_range(header: str, size: int, expected: tuple[int, int] | int | None) -> None:
    if isinstance(expected, int):
        with pytest.raises(HTTPException) as exc:
            evidence.parse_range(header, size)
        assert exc.value.status_code == 416 and exc.value.headers == {
            "Content-Range": f"bytes */{size}",
            "Accept-Ranges": "bytes",
        }
    else:
        assert evidence.parse_range(header, size) == expected


def test_resolve_stays_inside(tmp_path: Path) -> None:
    base = tmp_path / "evidence"
    (base / "cam").mkdir(parents=True)
    (base / "cam" / "a.jpg").write_bytes(b"x")
    (tmp_path / "outside.jpg").write_bytes(b"secret")
    os.symlink(tmp_path / "outside.jpg", base / "cam" / "link.jpg")
    os.symlink(tmp_path, base / "dirlink")
    assert evidence.resolve(base, "cam/a.jpg") == (base / "cam" / "a.jpg").resolve()
    assert evidence.resolve(base, "evidence/cam/a.jpg") == (base / "cam" / "a.jpg").resolve()
    for bad in (
        "../outside.jpg",
        "cam/../../outside.jpg",
        "/etc/passwd",
        str(tmp_path / "outside.jpg"),
        "cam/link.jpg",
        "dirlink/outside.jpg",
        "cam\\..\\..\\outside.jpg",
        "cam/a.jpg\x00",
        "",
        None,
        "cam",
        "cam/missing.jpg",
    ):
        assert evidence.resolve(base, bad) is None, bad


@pytest.mark.parametrize(
    ("kind", "head", "ok"),
    [
        ("snapshot", b"\xff\xd8\xff\xe0", True),
        ("snapshot", b"\x89PNG", False),
        ("clip", b"\0\0\0\x18ftypisom", True),
        ("clip", b"RIFF....AVI ", False),
        ("other", b"\xff\xd8\xff", False),
    ],
)
def test_magic_numbers(kind: str, head: bytes, ok: bool) -> None:
    assert evidence.looks_like(kind, head) is ok
