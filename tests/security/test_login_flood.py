"""A login flood against a real ``tellerwatch serve`` (uvicorn in a subprocess, loopback, production
settings: the real Argon2id cost), on SQLite and PostgreSQL.

Done when: of 60 parallel wrong logins at least 50 get 429 and none a 5xx, ``/healthz`` answers
within 3 s throughout, and the right password sent once the limit is hit is refused too. Run with
``-s`` to see the figures (the README's Security section quotes them).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import free_port, temporary_pg_database

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "the right password 42"
BURST = 60


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TELLERWATCH_ENV": "production",
        "TELLERWATCH_SECRET_KEY": "flood-test-secret-" + "s" * 40,
        "TELLERWATCH_DATA_DIR": str(tmp_path / "data"),
        "TELLERWATCH_INGEST_KEYS": "site-a:flood-test-key-0123456789",
    }
    env.pop("TELLERWATCH_DATABASE_URL", None)
    with temporary_pg_database("tw_flood") if request.param == "postgresql" else _nothing() as name:
        if name:
            env["TELLERWATCH_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{name}"
        add = subprocess.run(
            [sys.executable, "-m", "tellerwatch", "users", "add", "alice", "--role", "operator", "--password-stdin"],
            input=PASSWORD + "\n", text=True, capture_output=True, cwd=ROOT, env=env, timeout=120,
        )
        assert add.returncode == 0, add.stderr
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tellerwatch", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
            yield url, request.param
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=20)
    assert "Traceback" not in out, out[-3000:]
    # serve names the bare keys it has (none here)
    assert "bare key" not in out


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


async def _flood(url: str, usernames: list[str], local_address: str) -> dict[str, object]:
    """Fire the logins at once, watch /healthz meanwhile; send the right password once a 429 came."""
    limit_hit = asyncio.Event()  # also set when the burst is over without a 429, so nothing hangs
    done = asyncio.Event()
    answered = 0
    health: list[float] = []
    transport = httpx.AsyncHTTPTransport(local_address=local_address)
    limits = httpx.Limits(max_connections=BURST + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, transport=transport, limits=limits, timeout=60) as client, \
            httpx.AsyncClient(base_url=url, timeout=10) as probe:

        async def wrong(name: str) -> int:
            nonlocal answered
            try:
                r = await client.post("/api/v1/auth/login", json={"username": name, "password": "wrong guess"})
            finally:
                answered += 1
                if answered == len(usernames):
                    limit_hit.set()
            if r.status_code == 429:
                limit_hit.set()
            return r.status_code

        async def right() -> int:
            await limit_hit.wait()
            r = await client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
            return r.status_code

        async def watch() -> None:
            while not done.is_set():
                t0 = time.perf_counter()
                try:
                    ok = (await probe.get("/healthz")).status_code == 200
                except httpx.TimeoutException:  # counted as the full timeout: far over the 3 s allowed
                    ok = True
                health.append(time.perf_counter() - t0 if ok else float("inf"))
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        t0 = time.perf_counter()
        codes = await asyncio.gather(*(wrong(n) for n in usernames), right())
        wall = time.perf_counter() - t0
        done.set()
        await watcher
    return {"codes": Counter(codes[:-1]), "right": codes[-1], "health_max_s": max(health),
            "health_n": len(health), "wall_s": wall}


def test_parallel_wrong_logins_are_limited_and_health_stays_up(server: tuple[str, str]) -> None:
    url, backend = server
    one = asyncio.run(_flood(url, ["alice"] * BURST, "127.0.0.1"))
    codes: Counter[int] = one["codes"]  # type: ignore[assignment]
    print(f"\n[{backend}] {BURST} parallel wrong logins, one user, one address: {dict(codes)}; right password "
          f"after the limit: {one['right']}; /healthz max {one['health_max_s']:.3f} s over {one['health_n']} "
          f"probes; burst {one['wall_s']:.2f} s")
    assert codes[429] >= 50 and not any(c >= 500 for c in codes)
    assert one["right"] == 429
    assert one["health_max_s"] < 3.0
    # spraying: a different username each time, from another loopback address
    spray = asyncio.run(_flood(url, [f"user{i}" for i in range(BURST)] , "127.0.0.2"))
    sprayed: Counter[int] = spray["codes"]  # type: ignore[assignment]
    print(f"[{backend}] {BURST} parallel wrong logins, {BURST} usernames, one address: {dict(sprayed)}; "
          f"/healthz max {spray['health_max_s']:.3f} s; burst {spray['wall_s']:.2f} s")
    assert sprayed[429] >= 40 and not any(c >= 500 for c in sprayed)
    assert spray["health_max_s"] < 3.0
