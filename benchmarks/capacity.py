"""How many cameras this box carries in real time: detector x cameras x motion gating.

Each run is ``tellerwatch bench`` on a config whose one camera is repeated N times; a run is
real time when every camera's media advanced at least as fast as the wall clock
(``realtime_factor >= 1``). Results go to a JSON file and a Markdown table for the README.

    python benchmarks/capacity.py CONFIG --detector ssd-mobilenet --detector yolox-onnx=MODEL \\
        --cameras 1 2 4 8 16 --max-seconds 20 [--gating on] [--backend openvino] [--workers 2] \\
        --out benchmarks/results/capacity.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_bench(config: dict, copies: int, gating: bool, max_seconds: float, tmp: Path) -> dict:
    cfg_path = tmp / "bench.yaml"
    cfg_path.write_text(yaml.safe_dump(config, allow_unicode=True))
    out = tmp / "bench.json"
    cmd = [sys.executable, "-m", "tellerwatch", "bench", str(cfg_path), "--json", str(out), "--cameras", str(copies),
           "--no-clips", "--max-seconds", str(max_seconds)]
    if not gating:
        cmd.append("--no-motion-gating")
    env = dict(os.environ, TELLERWATCH_DATA_DIR=str(tmp / "data"))
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("config", type=Path)
    ap.add_argument("--detector", action="append", required=True, help="TYPE or TYPE=MODEL_PATH")
    ap.add_argument("--cameras", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--max-seconds", type=float, default=20.0)
    ap.add_argument("--gating", choices=["both", "on", "off"], default="both", help="motion gating runs to make")
    ap.add_argument("--backend", help="detector.backend for every detector (opencv, onnxruntime, openvino)")
    ap.add_argument("--workers", type=int, default=1, help="detector.workers (copies used at the same time)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    base = yaml.safe_load(args.config.read_text())
    src = Path(base["cameras"][0]["source"])
    if not src.is_absolute():
        base["cameras"][0]["source"] = str((args.config.parent / src).resolve())
    rows = []
    for det in args.detector:
        kind, _, model = det.partition("=")
        for gating in {"both": (True, False), "on": (True,), "off": (False,)}[args.gating]:
            for n in sorted(args.cameras):
                config = json.loads(json.dumps(base))
                config["detector"] = {"type": kind, **({"model": str(Path(model).resolve())} if model else {}),
                                      **({"backend": args.backend} if args.backend else {}), "workers": args.workers}
                with tempfile.TemporaryDirectory() as tmp:
                    res = run_bench(config, n, gating, args.max_seconds, Path(tmp))
                row = {"detector": kind, "backend": args.backend or "default", "workers": args.workers,
                       "gating": gating, "cameras": n, "realtime_factor": res["realtime_factor"],
                       "fps": res["fps"], "cpu_percent": res["cpu_percent"], "peak_rss_mb": res["peak_rss_mb"],
                       "detector_runs": res["detector_runs"], "frames": res["frames"],
                       "detect_p50_ms": res["detector_p50_ms"], "non_model_p50_ms": res["non_model_p50_ms"]}
                rows.append(row)
                print(json.dumps(row), flush=True)
                if res["realtime_factor"] < 1.0:
                    break  # more cameras only get slower
    carried = {}
    for row in rows:
        key = (row["detector"], row["gating"])
        if row["realtime_factor"] >= 1.0:
            carried[key] = max(carried.get(key, 0), row["cameras"])
    result = {"cpu": cpu_model(), "cores": os.cpu_count(), "clip": str(src), "rows": rows,
              "carried": [{"detector": d, "gating": g, "cameras": n} for (d, g), n in carried.items()]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\nCPU: {result['cpu']} ({result['cores']} cores)")
    print("| detector | motion gating | cameras in real time |")
    print("|---|---|---|")
    for (d, g), n in carried.items():
        print(f"| {d} | {'on' if g else 'off'} | {n} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
