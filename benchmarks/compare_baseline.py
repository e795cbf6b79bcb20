"""TellerWatch vs the supervision-tutorial baseline on the same clip and model, whole process.

Both run as separate processes (start-up, model load and decode included) and their violations
are compared: same rule and zone, start and end within the tolerance.

    python benchmarks/compare_baseline.py CONFIG [--tolerance 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return time.perf_counter() - t0


def spans(path: Path) -> list[tuple[str, str, datetime, datetime]]:
    out = []
    for line in path.read_text().splitlines():
        v = json.loads(line)
        if v["rule"] == "unattended_items":
            continue  # the baseline has no counter-item watcher
        out.append((v["rule"], v["zone"], datetime.fromisoformat(v["started_at"]),
                    datetime.fromisoformat(v["ended_at"])))
    return sorted(out, key=lambda s: s[2])


def same(a, b, tol: float) -> bool:
    if len(a) != len(b):
        return False
    return all(x[:2] == y[:2] and abs((x[2] - y[2]).total_seconds()) <= tol
               and abs((x[3] - y[3]).total_seconds()) <= tol for x, y in zip(a, b, strict=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("config", type=Path)
    ap.add_argument("--tolerance", type=float, default=3.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        env = dict(os.environ, TELLERWATCH_DATA_DIR=str(tmpd / "data"))
        ours_events, base_events = tmpd / "ours.jsonl", tmpd / "baseline.jsonl"
        ours = timed([sys.executable, "-m", "vision", "run", str(args.config), "--no-clips", "--quiet",
                      "--events-jsonl", str(ours_events)], env)
        base = timed([sys.executable, str(HERE / "baseline_supervision.py"), str(args.config),
                      "--events-jsonl", str(base_events)], env)
        a, b = spans(ours_events), spans(base_events)
    result = {
        "config": str(args.config),
        "tellerwatch_wall_s": round(ours, 2),
        "baseline_wall_s": round(base, 2),
        "speedup": round(base / ours, 2),
        "tellerwatch_violations": len(a),
        "baseline_violations": len(b),
        "same_violations": same(a, b, args.tolerance),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
