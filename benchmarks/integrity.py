"""What tamper evidence costs: the API's upload path with its SHA-256 check, and `tellerwatch verify`.

N violations, each with a snapshot and a clip of the given sizes (random bytes behind the JPEG /
MP4 magic: hashing cost depends on size only), are posted to the real API (uvicorn on loopback,
SQLite) by one client, then the evidence folder is verified against the database. The per-file
hashing the pipeline adds is measured by ``python -m vision.evidence.measure --clip 10``.

    python benchmarks/integrity.py --violations 40 --clip-mb 6.3 --out benchmarks/results/integrity.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEY = "benchmark-ingest-key-0123456789"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--violations", type=int, default=40)
    p.add_argument("--clip-mb", type=float, default=6.3, help="clip size (a 20 s 1080p ultrafast clip: ~6.3 MB)")
    p.add_argument("--snapshot-kb", type=float, default=200)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    from api.app import create_app
    from api.settings import Settings
    from api.verify import verify
    from benchmarks.capacity import cpu_model
    from tests.api.helpers import ThreadServer

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(env="dev", data_dir=Path(tmp), ingest_keys=KEY, argon2_time_cost=1,
                            argon2_memory_kib=64, argon2_parallelism=1)
        app = create_app(settings)
        clip = b"\x00\x00\x00\x18ftypisom" + os.urandom(int(args.clip_mb * 1e6) - 12)
        snap = b"\xff\xd8\xff\xe0" + os.urandom(int(args.snapshot_kb * 1e3) - 4)
        details = {"clip_sha256": hashlib.sha256(clip).hexdigest(), "snapshot_sha256": hashlib.sha256(snap).hexdigest()}
        with ThreadServer(app) as server, httpx.Client(headers={"X-API-Key": KEY}, timeout=60) as client:
            t0 = time.perf_counter()
            for _ in range(args.violations):
                rec = {"id": uuid.uuid4().hex, "site": "bench", "camera": "cam-1", "rule": "dual_teller",
                       "zone": "teller_area", "severity": "high", "state": "ended",
                       "started_at": "2026-11-26T09:00:07.400+08:00", "ended_at": "2026-11-26T09:00:19.000+08:00",
                       "duration_s": 11.6, "track_ids": [3], "details": details, "snapshot": None, "clip": None}
                r = client.post(server.url + "/api/v1/events", data={"record": json.dumps(rec)},
                                files={"snapshot": ("s.jpg", snap), "clip": ("c.mp4", clip)})
                r.raise_for_status()
            ingest_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = verify(settings)
        verify_s = time.perf_counter() - t0
        app.state.db.dispose()
    total_mb = args.violations * (len(clip) + len(snap)) / 1e6
    t0 = time.perf_counter()
    for _ in range(5):
        hashlib.sha256(clip).hexdigest()
    sha_mb_s = 5 * len(clip) / 1e6 / (time.perf_counter() - t0)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "cpu": cpu_model(), "cores": os.cpu_count(),
        "violations": args.violations, "clip_bytes": len(clip), "snapshot_bytes": len(snap),
        "ingest_s": round(ingest_s, 2), "ingest_ms_per_violation": round(1000 * ingest_s / args.violations, 1),
        "sha256_mb_per_s_in_memory": round(sha_mb_s),
        "hash_share_of_ingest": round((total_mb / sha_mb_s) / ingest_s, 3),
        "verify_s": round(verify_s, 2), "verify_mb_per_s": round(total_mb / verify_s, 1),
        "verify_files_matched": report.matched, "verify_problems": len(report.problems),
    }
    print(json.dumps(result, indent=2))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if report.ok and report.matched == 2 * args.violations else 1


if __name__ == "__main__":
    raise SystemExit(main())
