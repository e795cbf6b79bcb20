"""Load test of the central API: simulated branch boxes against ``serve`` replicas on PostgreSQL.

    python benchmarks/load.py --boxes 10 20 30 40 50 100 --out benchmarks/results/load.json

What runs, on loopback only: a throwaway PostgreSQL database (dropped at the end), ``--replicas``
``tellerwatch serve`` processes on ephemeral ports sharing it and one evidence folder, and, per
step, ``boxes x cameras`` simulated cameras. Each box has its own site-bound ingest key and, like a
reverse proxy would, is pinned to one replica (round robin). Every camera does what a real
pipeline does, at these default rates (``--status-every`` ...):

- ``POST /metrics/pipeline`` every 5 s (camera status, stage latencies, zone counts)
- ``GET /cameras/{id}/zones`` with ``If-None-Match`` every 5 s (zone hot reload; answers 304)
- ``POST /cameras/{id}/frame`` every 30 s (a 640x360 JPEG for the zone editor)
- a violation every 60 s: ``POST /events`` open, then 10 s later ended with its snapshot and clip
  (multipart, ``--clip-kb``); a real counter files a handful a day, so this is a stress rate

Operators: ``--subscribers`` live streams (SSE) per replica; the fan-out latency is the time from
sending an event to one replica until it arrives on a stream of another.

Requests are scheduled open-loop (a late answer does not delay the next request); ``lag`` is how
late the load generator itself started requests, so a saturated generator shows up rather than
hiding behind low latencies. Each step reports per route p50 / p95 / p99 latency, errors (non-2xx
other than the expected 304, and transport errors), the database connections of the replicas
(``pg_stat_activity``, max over 1 s samples), CPU seconds of the replicas, of the database's
backends serving them and of the load generator, and the whole machine's CPU use. The limit is
the largest step where every request succeeded, ingest p99 stayed under ``--slo-ms`` and the
generator kept to its schedule (lag p95 < 100 ms). The run stops by itself after the first step
past the limit (``--all-steps``: after the last), each step at most 30 s after its window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
PASSWORD = "load-test password 42"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- machine measurements ---------------------------------------------------------------------------
def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# -- the servers ------------------------------------------------------------------------------------
@contextmanager
def throwaway_database(admin_dsn: str) -> Any:
    import psycopg

    name = f"tw_load_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def replicas(count: int, env: dict[str, str], log_dir: Path) -> Any:
    ports = [free_port() for _ in range(count)]
    procs: list[subprocess.Popen[bytes]] = []
    for i, port in enumerate(ports):
        log = (log_dir / f"replica-{i}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "tellerwatch", "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        deadline = time.monotonic() + 90
        for proc, url in zip(procs, urls, strict=True):
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"serve exited early; see {log_dir}")
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("serve did not start within 90 s")
                time.sleep(0.2)
        yield urls, procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


# -- the simulated boxes ----------------------------------------------------------------------------
@dataclass
class Rates:
    status_s: float
    zones_s: float
    frame_s: float
    violation_s: float
    end_after_s: float

    def per_camera_per_s(self) -> float:
        """Requests a camera sends per second (a violation is two: open and ended)."""
        return 1 / self.status_s + 1 / self.zones_s + 1 / self.frame_s + 2 / self.violation_s


@dataclass
class Step:
    boxes: int
    cameras: int
    seconds: float
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lag: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)
    sent_at: dict[str, tuple[float, int]] = field(default_factory=dict)  # violation id -> (t, replica)
    fanout: list[float] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)
    wall_s: float = 0.0  # from the first scheduled request to the last answer


def make_jpeg(rng: np.random.Generator) -> bytes:
    """A 640x360 camera-like frame (gradient, shapes, sensor noise), ~40 kB at quality 80."""
    img = np.zeros((360, 640, 3), np.uint8)
    img[:] = np.linspace(40, 200, 640, dtype=np.uint8)[None, :, None]
    cv2.rectangle(img, (100, 150), (540, 200), (90, 110, 130), -1)
    noise = rng.normal(0, 6, img.shape)
    img = np.clip(img + noise, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return buf.tobytes()


MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


class Simulation:
    def __init__(self, urls: list[str], keys: list[str], step: Step, rates: Rates, jpeg: bytes, clip: bytes) -> None:
        self.urls, self.keys, self.step, self.rates = urls, keys, step, rates
        self.jpeg, self.clip = jpeg, clip
        self.deadline = 0.0

    async def request(self, client: httpx.AsyncClient, kind: str, due: float, method: str, url: str, **kw: Any) -> int:
        start = time.monotonic()
        self.step.lag.append(max(0.0, start - due))
        try:
            resp = await client.request(method, url, **kw)
            status = resp.status_code
        except httpx.HTTPError as exc:
            status = 0
            if len(self.step.error_samples) < 10:
                self.step.error_samples.append(f"{kind}: {type(exc).__name__} {exc}")
        self.step.latency[kind].append(time.monotonic() - start)
        if not (200 <= status < 300 or status == 304):
            self.step.errors[kind] += 1
            if status and len(self.step.error_samples) < 10:
                self.step.error_samples.append(f"{kind}: HTTP {status}")
        return status

    async def periodic(self, every_s: float, action: Any) -> None:
        due = time.monotonic() + random.uniform(0, every_s)  # cameras are not in step with each other
        while due < self.deadline:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await action(due)
            due += every_s

    def camera(self, client: httpx.AsyncClient, box: int, cam: int) -> list[Any]:
        site, camera = f"box-{box:04d}", f"cam-{cam}"
        replica = box % len(self.urls)
        base = self.urls[replica] + "/api/v1"
        headers = {"X-API-Key": self.keys[box]}
        etag: dict[str, str] = {}
        r = self.rates

        async def status(due: float) -> None:
            body = {
                "site": site,
                "camera": camera,
                "interval_s": r.status_s,
                "frames": int(25 * r.status_s),
                "analysed": int(5 * r.status_s),
                "fps": 5.0,
                "status": "up",
                "stages": {"detect": [round(random.uniform(0.02, 0.06), 4) for _ in range(5)], "track": [0.001]},
                "zones": {"teller_area": {"persons": random.randint(0, 3), "staff": 2, "items": 0}},
                "zones_version": 0,
            }
            await self.request(client, "status", due, "POST", base + "/metrics/pipeline", json=body, headers=headers)

        async def zones(due: float) -> None:
            h = {**headers, **({"If-None-Match": etag["v"]} if "v" in etag else {})}
            start = time.monotonic()
            self.step.lag.append(max(0.0, start - due))
            try:
                resp = await client.get(base + f"/cameras/{camera}/zones", params={"site": site}, headers=h)
                ok = resp.status_code in (200, 304)
                if resp.status_code == 200:
                    etag["v"] = resp.headers.get("ETag", "")
            except httpx.HTTPError:
                ok = False
            self.step.latency["zones"].append(time.monotonic() - start)
            if not ok:
                self.step.errors["zones"] += 1

        async def frame(due: float) -> None:
            await self.request(
                client,
                "frame",
                due,
                "POST",
                base + f"/cameras/{camera}/frame",
                params={"site": site},
                content=self.jpeg,
                headers={**headers, "Content-Type": "image/jpeg"},
            )

        async def violation(due: float) -> None:
            vid = uuid.uuid4().hex
            started = datetime.now(UTC)
            rec: dict[str, Any] = {
                "id": vid,
                "site": site,
                "camera": camera,
                "rule": "dual_teller",
                "zone": "teller_area",
                "severity": "high",
                "state": "open",
                "started_at": started.isoformat(timespec="milliseconds"),
                "ended_at": None,
                "duration_s": 0.0,
                "track_ids": [3],
                "details": {"min_staff_seen": 1},
                "snapshot": None,
                "clip": None,
            }
            self.step.sent_at[vid] = (time.monotonic(), replica)
            await self.request(client, "ingest", due, "POST", base + "/events", json=rec, headers=headers)
            await asyncio.sleep(r.end_after_s)
            if time.monotonic() >= self.deadline:
                return
            ended = {
                **rec,
                "state": "ended",
                "duration_s": r.end_after_s,
                "ended_at": (started + timedelta(seconds=r.end_after_s)).isoformat(timespec="milliseconds"),
            }
            files = {
                "record": (None, json.dumps(ended), "application/json"),
                "snapshot": ("s.jpg", self.jpeg, "image/jpeg"),
                "clip": ("c.mp4", self.clip, "video/mp4"),
            }
            await self.request(
                client, "ingest_evidence", time.monotonic(), "POST", base + "/events", files=files, headers=headers
            )

        return [
            self.periodic(r.status_s, status),
            self.periodic(r.zones_s, zones),
            self.periodic(r.frame_s, frame),
            self.periodic(r.violation_s, violation),
        ]

    async def subscriber(self, replica: int, token: str, ready: asyncio.Event) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client:
            async with client.stream("GET", self.urls[replica] + "/api/v1/live", headers=headers) as resp:
                ready.set()
                data = ""
                async for line in resp.aiter_lines():
                    if line.startswith("data: "):
                        data = line[6:]
                    elif line == "" and data:
                        try:
                            msg = json.loads(data)
                        except ValueError:
                            msg = {}
                        vid = msg.get("id") if isinstance(msg, dict) else None
                        sent = self.step.sent_at.get(vid) if isinstance(vid, str) else None
                        if sent and sent[1] != replica and msg.get("state") == "open":
                            self.step.fanout.append(time.monotonic() - sent[0])
                        data = ""


def register(admin_dsn: str, db_name: str, boxes: int, cameras: int) -> None:
    """Seeds every box's site and cameras (as its first frame upload would), straight into the
    database, so that setting up 800 cameras takes a second rather than a minute of the run."""
    import psycopg

    now = datetime.now(UTC).replace(tzinfo=None)
    dsn = admin_dsn.replace("dbname=postgres", f"dbname={db_name}")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO sites (id, timezone, updated_at) VALUES (%s, 'Asia/Shanghai', %s)",
            [(f"box-{b:04d}", now) for b in range(boxes)],
        )
        cur.executemany(
            "INSERT INTO cameras (site, camera_id, zones_version, last_seen) VALUES (%s, %s, 0, %s)",
            [(f"box-{b:04d}", f"cam-{c}", now) for b in range(boxes) for c in range(cameras)],
        )


async def run_step(
    urls: list[str],
    keys: list[str],
    step: Step,
    rates: Rates,
    tokens: list[str],
    subs: int,
    jpeg: bytes,
    clip: bytes,
    db_name: str,
    admin_dsn: str,
) -> None:
    import psycopg

    sim = Simulation(urls, keys, step, rates, jpeg, clip)
    limits = httpx.Limits(max_connections=max(64, step.boxes), max_keepalive_connections=max(64, step.boxes))
    async with httpx.AsyncClient(timeout=httpx.Timeout(30), limits=limits) as client:
        sub_tasks = []
        for replica in range(len(urls)):
            for _ in range(subs):
                ready = asyncio.Event()
                sub_tasks.append(asyncio.create_task(sim.subscriber(replica, tokens[replica], ready)))
                await asyncio.wait_for(ready.wait(), 15)
        t_setup = time.monotonic()
        sim.deadline = time.monotonic() + step.seconds
        cams = [t for b in range(step.boxes) for c in range(step.cameras) for t in sim.camera(client, b, c)]
        work = asyncio.gather(*cams)

        stop_sampling = threading.Event()

        def sample_connections() -> None:
            # a thread of its own: a slow database must not stall the simulated boxes' event loop
            with psycopg.connect(admin_dsn, autocommit=True) as conn:
                while not stop_sampling.wait(1.0):
                    row = conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (db_name,)
                    ).fetchone()
                    step.connections.append(int(row[0]) if row else 0)

        sampler = threading.Thread(target=sample_connections, daemon=True)
        sampler.start()
        try:
            # an overloaded step still ends: what has not been answered 30 s after the last
            # scheduled request counts as an error
            await asyncio.wait_for(work, step.seconds + rates.end_after_s + 30)
        except TimeoutError:
            step.errors["unfinished"] += 1
            step.error_samples.append("requests still unanswered 30 s after the step ended")
        step.wall_s = time.monotonic() - t_setup
        await asyncio.sleep(1.0)  # let the last fan-out messages arrive
        stop_sampling.set()
        for t in sub_tasks:
            t.cancel()
        await asyncio.gather(*sub_tasks, return_exceptions=True)
        sampler.join(5)


def backend_pids(admin_dsn: str, db_name: str) -> list[int]:
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        return [int(r[0]) for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (db_name,))]


def summarise(step: Step, cpu: dict[str, float], wall: float, slo_ms: float) -> dict[str, Any]:
    routes = {}
    total = 0
    for kind, values in sorted(step.latency.items()):
        total += len(values)
        routes[kind] = {
            "requests": len(values),
            "errors": step.errors.get(kind, 0),
            "p50_ms": round(1000 * (pct(values, 50) or 0), 1),
            "p95_ms": round(1000 * (pct(values, 95) or 0), 1),
            "p99_ms": round(1000 * (pct(values, 99) or 0), 1),
        }
    ingest = step.latency.get("ingest", []) + step.latency.get("ingest_evidence", [])
    errors = sum(step.errors.values())
    lag95 = pct(step.lag, 95) or 0.0
    ingest99 = pct(ingest, 99) or 0.0
    return {
        "boxes": step.boxes,
        "cameras": step.boxes * step.cameras,
        "seconds": step.seconds,
        "wall_s": round(wall, 1),  # the window, then the last answers (ended violations come later)
        "requests": total,
        "requests_per_s": round(total / step.seconds, 1),  # over the scheduled window
        "errors": errors,
        "error_samples": step.error_samples,
        "ingest_p50_ms": round(1000 * (pct(ingest, 50) or 0), 1),
        "ingest_p95_ms": round(1000 * (pct(ingest, 95) or 0), 1),
        "ingest_p99_ms": round(1000 * ingest99, 1),
        "routes": routes,
        "fanout_p50_ms": round(1000 * (pct(step.fanout, 50) or 0), 1),
        "fanout_p99_ms": round(1000 * (pct(step.fanout, 99) or 0), 1),
        "fanout_messages": len(step.fanout),
        "lag_p95_ms": round(1000 * lag95, 1),
        "db_connections_max": max(step.connections, default=0),
        "cpu": {k: round(v, 2) for k, v in cpu.items()},
        "within_limit": errors == 0 and ingest99 * 1000 < slo_ms and lag95 < 0.1,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    rates = Rates(args.status_every, args.zones_every, args.frame_every, args.violation_every, args.end_after)
    rng = np.random.default_rng(7)
    jpeg = make_jpeg(rng)
    clip = MP4_HEAD + rng.integers(0, 256, args.clip_kb * 1024, dtype=np.uint8).tobytes()
    max_boxes = max(args.boxes)
    keys = [f"box-{b:04d}-" + secrets.token_hex(12) for b in range(max_boxes)]
    results: dict[str, Any] = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "replicas": args.replicas,
        "rates_s": vars(rates),
        "clip_kb": args.clip_kb,
        "jpeg_kb": round(len(jpeg) / 1024, 1),
        "slo_ms": args.slo_ms,
        "steps": [],
    }
    with throwaway_database(args.pg_admin_dsn) as db_name, tempfile.TemporaryDirectory(prefix="tw-load-") as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TELLERWATCH_ENV": "production",
            "TELLERWATCH_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{db_name}",
            "TELLERWATCH_SECRET_KEY": secrets.token_urlsafe(48),
            "TELLERWATCH_INGEST_KEYS": ",".join(f"box-{b:04d}:{k}" for b, k in enumerate(keys)),
            "TELLERWATCH_DATA_DIR": str(Path(tmp) / "data"),
            "TELLERWATCH_EVIDENCE_DIR": str(Path(tmp) / "evidence"),  # shared by the replicas
        }
        with replicas(args.replicas, env, Path(tmp)) as (urls, procs):
            add = subprocess.run(
                [sys.executable, "-m", "tellerwatch", "users", "add", "op", "--role", "operator", "--password-stdin"],
                input=PASSWORD + "\n",
                text=True,
                capture_output=True,
                cwd=ROOT,
                env=env,
                timeout=120,
            )
            if add.returncode != 0:
                raise SystemExit(add.stderr)
            tokens = [
                httpx.post(u + "/api/v1/auth/login", json={"username": "op", "password": PASSWORD}, timeout=60).json()[
                    "access_token"
                ]
                for u in urls
            ]
            register(args.pg_admin_dsn, db_name, max_boxes, args.cameras)
            for boxes in args.boxes:
                step = Step(boxes, args.cameras, args.seconds)
                pids = backend_pids(args.pg_admin_dsn, db_name)
                before = {
                    "replicas": sum(proc_cpu_s(p.pid) for p in procs),
                    "generator": sum(os.times()[:2]),
                }
                db_before = {pid: proc_cpu_s(pid) for pid in pids}
                busy0, total0 = machine_cpu()
                await run_step(
                    urls, keys, step, rates, tokens, args.subscribers, jpeg, clip, db_name, args.pg_admin_dsn
                )
                wall = step.wall_s
                busy1, total1 = machine_cpu()
                pids_after = backend_pids(args.pg_admin_dsn, db_name)
                # backends that closed during the step take their CPU time with them: a floor
                db_cpu = sum(max(0.0, proc_cpu_s(p) - db_before.get(p, 0.0)) for p in set(pids) | set(pids_after))
                cpu = {
                    "replicas_s": sum(proc_cpu_s(p.pid) for p in procs) - before["replicas"],
                    "postgres_backends_s": db_cpu,
                    "generator_s": sum(os.times()[:2]) - before["generator"],
                    "machine_busy_pct": 100 * (busy1 - busy0) / max(1, total1 - total0),
                }
                summary = summarise(step, cpu, wall, args.slo_ms)
                summary["offered_per_s"] = round(boxes * args.cameras * rates.per_camera_per_s(), 1)
                results["steps"].append(summary)
                if args.out:
                    write(args.out, results)
                print(
                    f"{boxes:4d} boxes x {args.cameras}: {summary['requests_per_s']:6.1f} req/s, ingest p50/p95/p99 "
                    f"{summary['ingest_p50_ms']}/{summary['ingest_p95_ms']}/{summary['ingest_p99_ms']} ms, "
                    f"errors {summary['errors']}, fan-out p50 {summary['fanout_p50_ms']} ms, "
                    f"db conns {summary['db_connections_max']}, lag p95 {summary['lag_p95_ms']} ms, "
                    f"machine CPU {cpu['machine_busy_pct']:.0f}%",
                    flush=True,
                )
                if not summary["within_limit"] and not args.all_steps:
                    break  # past the limit: the larger steps would only take longer to say so
    ok = [s["boxes"] for s in results["steps"] if s["within_limit"]]
    results["limit_boxes"] = max(ok) if ok else 0
    return results


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--boxes", type=int, nargs="+", default=[10, 25, 50, 100, 200], help="branch boxes, one step each")
    ap.add_argument("--cameras", type=int, default=4, help="cameras per box")
    ap.add_argument("--seconds", type=float, default=25, help="length of each step")
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--subscribers", type=int, default=2, help="live streams (operators) per replica")
    ap.add_argument("--status-every", type=float, default=5.0)
    ap.add_argument("--zones-every", type=float, default=5.0)
    ap.add_argument("--frame-every", type=float, default=30.0)
    ap.add_argument("--violation-every", type=float, default=60.0)
    ap.add_argument("--end-after", type=float, default=10.0, help="seconds from a violation's open to its end")
    ap.add_argument("--clip-kb", type=int, default=200, help="size of the clip sent with each ended violation")
    ap.add_argument("--slo-ms", type=float, default=1000.0, help="ingest p99 a step must stay under")
    ap.add_argument("--pg-admin-dsn", default=PG_ADMIN_DSN)
    ap.add_argument("--out", type=Path, help="write the results as JSON (after every step)")
    ap.add_argument("--all-steps", action="store_true", help="go on after a step past the limit")
    args = ap.parse_args()
    if max(args.boxes) > 2000 or args.cameras > 32 or args.seconds > 300 or len(args.boxes) > 8:
        ap.error("bounded: at most 2000 boxes, 32 cameras, 300 s and 8 steps")
    results = asyncio.run(main_async(args))
    print(
        f"limit on this machine: {results['limit_boxes']} boxes x {args.cameras} cameras "
        f"(no errors, ingest p99 < {args.slo_ms:.0f} ms, generator on schedule)"
    )
    if args.out:
        write(args.out, results)


def write(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
