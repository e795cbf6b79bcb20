"""Bounded soak: a looped real clip on N cameras for M minutes, with memory and file descriptors
sampled, to show they stay flat rather than grow.

    python benchmarks/soak.py --minutes 20 --cameras 4 --out benchmarks/results/soak.json [--mqtt]

What runs: ``tellerwatch serve`` (SQLite, loopback) and ``tellerwatch run`` on a generated
config: every camera plays ``--clip`` (default ../shared/footage/bottle-detection.mp4) with
``loop: true``, the embedded SSD detector, clips and snapshots on (``retention_max_mb`` keeps the
evidence bounded), the HTTP outbox to the API, optionally the MQTT sink (a broker on loopback),
and the status reporter. A dual-teller rule whose business hours open every other minute of the
replayed day files a violation every two minutes of media time per camera, so clips, snapshots,
outbox rows and API rows are created and finished all through the run. Files replay as fast as
the CPU allows, which stresses more than real time would.

Every ``--interval`` seconds it records, for the pipeline and the API process: RSS (MB), open
file descriptors, threads; plus the evidence folder's size, the outbox's pending rows and the
violations filed. The summary gives first / last / min / max and a least-squares slope per minute
over the samples after ``--warmup-minutes`` (model loading, buffers filling and the first clips
are not a leak). Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = ROOT.parent / "shared" / "footage" / "bottle-detection.mp4"
KEY = "soak-ingest-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def every_other_minute() -> list[str]:
    out = []
    for m in range(0, 24 * 60 - 1, 2):
        h1, m1 = divmod(m, 60)
        h2, m2 = divmod(m + 1, 60)
        out.append(f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}")
    return out


def soak_config(clip: Path, cameras: int, api_url: str, mqtt: tuple[str, int] | None) -> dict[str, Any]:
    sinks: dict[str, Any] = {"api": {"url": api_url, "key_env": "TW_SOAK_KEY"}}
    if mqtt is not None:
        sinks["mqtt"] = {"host": mqtt[0], "port": mqtt[1], "topic_prefix": f"tw-soak-{os.getpid()}"}
    return {
        "site": {"id": "soak-branch", "timezone": "Asia/Shanghai", "business_hours": {"mon-sun": every_other_minute()}},
        "detector": {"type": "ssd-mobilenet"},
        "sinks": sinks,
        "cameras": [
            {
                "id": f"cam-{i + 1}",
                "source": str(clip),
                "loop": True,
                "replay_start": f"2026-11-26T00:00:{(i * 13) % 60:02d}+08:00",
                "analysis_fps": 5,
                "staff": {"method": "everyone"},
                "zones": [{"name": "counter", "kind": "teller_area", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}],
                "rules": [{"type": "dual_teller", "zone": "counter", "min_staff": 1, "grace_s": 1, "clear_s": 1,
                           "when": "business_hours"}],
                "evidence": {"pre_s": 3, "post_s": 3, "max_clip_s": 30, "retention_max_mb": 40},
            }
            for i in range(cameras)
        ],
    }


def proc_stats(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(fields["Threads"]),
    }


def dir_mb(path: Path) -> float:
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            pass
    return round(total / 1e6, 2)


def outbox_pending(path: Path) -> int | None:
    if not path.exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM pending").fetchone()[0])
    except sqlite3.Error:
        return None


def slope_per_minute(ts: list[float], ys: list[float]) -> float:
    n = len(ts)
    if n < 2:
        return 0.0
    mt, my = sum(ts) / n, sum(ys) / n
    var = sum((t - mt) ** 2 for t in ts)
    return 0.0 if var == 0 else sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / var * 60.0


def summarise(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    steady = [s for s in samples if s["t"] >= warmup_s] or samples
    for proc in ("pipeline", "api"):
        for key in ("rss_mb", "fds", "threads"):
            series = [(s["t"], s[proc][key]) for s in samples if s.get(proc)]
            tail = [(s["t"], s[proc][key]) for s in steady if s.get(proc)]
            if not series:
                continue
            values = [v for _, v in series]
            out[f"{proc}.{key}"] = {
                "first": values[0],
                "after_warmup": tail[0][1] if tail else values[0],
                "last": values[-1],
                "min": min(values),
                "max": max(values),
                "slope_per_min": round(slope_per_minute([t for t, _ in tail], [v for _, v in tail]), 4),
            }
    return out


def loopback(host: str) -> str:
    addr = ipaddress.ip_address(socket.gethostbyname(host))
    if not addr.is_loopback:
        raise SystemExit(f"--mqtt must be a loopback address, not {host}")
    return host


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, tuple[str, int] | None]:
    """The arguments, checked, and the MQTT broker (host, port) or None."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--warmup-minutes", type=float, default=2.0, help="left out of the slopes")
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    ap.add_argument("--mqtt", nargs="?", const="127.0.0.1:1883", default=None, help="also publish to this broker")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "soak.json")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the run's data here (default: a temp dir)")
    args = ap.parse_args(argv)
    if not args.clip.is_file():
        raise SystemExit(f"clip not found: {args.clip}")
    if not (0 < args.minutes <= 24 * 60 and 1 <= args.cameras <= 64 and args.interval > 0):
        raise SystemExit("--minutes in (0, 1440], --cameras in [1, 64], --interval > 0")
    mqtt = None
    if args.mqtt:
        host, _, port = args.mqtt.partition(":")
        mqtt = (loopback(host), int(port or 1883))
    return args, mqtt


def wait_healthy(api: subprocess.Popen[bytes], api_url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(api_url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if api.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"serve did not start; see {log}")
        time.sleep(0.2)


def take_sample(t: float, pipe: subprocess.Popen[bytes], api: subprocess.Popen[bytes], work: Path,
                events: Path) -> dict[str, Any]:
    """One sample of both processes and the pipeline's files, printed as one line."""
    sample: dict[str, Any] = {
        "t": t,
        "pipeline": proc_stats(pipe.pid),
        "api": proc_stats(api.pid),
        "evidence_mb": dir_mb(work / "pipeline" / "evidence"),
        "outbox_pending": outbox_pending(work / "pipeline" / "outbox.sqlite3"),
        "violations": sum(1 for _ in events.open()) if events.exists() else 0,
    }
    p = sample["pipeline"]
    print(f"  t={t:7.1f}s  pipeline {p['rss_mb']:7.1f} MB {p['fds']:4d} fds {p['threads']:3d} threads  "
          f"api {sample['api']['rss_mb']:6.1f} MB {sample['api']['fds']:3d} fds  "
          f"evidence {sample['evidence_mb']:6.2f} MB  violations {sample['violations']}", flush=True)
    return sample


def stop(*procs: subprocess.Popen[bytes] | None) -> None:
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def report(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print("\n| process.metric | first | after warm-up | last | min | max | slope / min |")
    print("|---|---|---|---|---|---|---|")
    for name, s in result["summary"].items():
        print(f"| {name} | {s['first']} | {s['after_warmup']} | {s['last']} | {s['min']} | {s['max']} | "
              f"{s['slope_per_min']:+.4f} |")
    print(f"\n{result['violations']} violations filed; evidence peaked at {result['evidence_mb_max']} MB; "
          f"pipeline exit {result['pipeline_exit']}; JSON in {out}")


def main(argv: list[str] | None = None) -> int:
    args, mqtt = parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="tw-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    cfg = work / "soak.yaml"
    cfg.write_text(yaml.safe_dump(soak_config(args.clip.resolve(), args.cameras, api_url, mqtt), allow_unicode=True))
    base_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    api_env = {**base_env, "TELLERWATCH_ENV": "dev", "TELLERWATCH_DATA_DIR": str(work / "api"),
               "TELLERWATCH_INGEST_KEYS": KEY}
    api_env.pop("TELLERWATCH_DATABASE_URL", None)
    pipe_env = {**base_env, "TELLERWATCH_DATA_DIR": str(work / "pipeline"), "TW_SOAK_KEY": KEY}
    events = work / "events.jsonl"

    api_log = (work / "serve.log").open("wb")
    run_log = (work / "run.log").open("wb")
    api = subprocess.Popen([sys.executable, "-m", "tellerwatch", "serve", "--host", "127.0.0.1", "--port", str(port)],
                           env=api_env, cwd=work, stdout=api_log, stderr=subprocess.STDOUT)
    pipe: subprocess.Popen[bytes] | None = None
    samples: list[dict[str, Any]] = []
    try:
        wait_healthy(api, api_url, work / "serve.log")
        pipe = subprocess.Popen([sys.executable, "-m", "tellerwatch", "run", str(cfg), "--events-jsonl", str(events),
                                 "--quiet"], env=pipe_env, cwd=work, stdout=run_log, stderr=subprocess.STDOUT,
                                # a soak started with `&` or nohup ignores SIGINT, and so would the
                                # pipeline: give it the default back, since the soak stops it with SIGINT
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        print(f"soak: {args.cameras} camera(s) for {args.minutes:g} min, sampling every {args.interval:g} s; "
              f"data in {work}", flush=True)
        while time.monotonic() < end:
            if pipe.poll() is not None:
                raise SystemExit(f"the pipeline exited early ({pipe.returncode}); see {work / 'run.log'}")
            samples.append(take_sample(round(time.monotonic() - t0, 1), pipe, api, work, events))
            time.sleep(max(0.0, min(args.interval, end - time.monotonic())))
        pipe.send_signal(signal.SIGINT)  # the CLI stops its cameras, flushes the outbox and exits
        pipe.wait(timeout=120)
    finally:
        stop(pipe, api)
        api_log.close()
        run_log.close()

    warmup_s = args.warmup_minutes * 60
    result = {
        "minutes": args.minutes,
        "cameras": args.cameras,
        "interval_s": args.interval,
        "warmup_minutes": args.warmup_minutes,
        "clip": args.clip.name,
        "mqtt": bool(mqtt),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "violations": samples[-1]["violations"] if samples else 0,
        "evidence_mb_max": max((s["evidence_mb"] for s in samples), default=0.0),
        "pipeline_exit": pipe.returncode if pipe is not None else None,
        "summary": summarise(samples, warmup_s),
        "samples": samples,
    }
    report(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
