"""Decode cost per camera: only what is analysed (non-reference frames skipped) vs every frame.

Reads one camera's file source the way the pipeline does, twice in one process and alternating
(``--repeat`` rounds, best kept): ``every_frame=False`` (clips off: the decoder skips
non-reference frames no analysis slot needs, where the codec allows) and ``every_frame=True``
(clips on: every source frame is decoded for the evidence buffer). Reports CPU and wall seconds
per camera, frames decoded and frames analysed.

    python benchmarks/decode.py CONFIG [--repeat 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from vision.config import load_config
from vision.sources import open_source


def one(camera, tz, every_frame: bool) -> dict[str, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    analysed = 0
    with open_source(camera, tz, every_frame=every_frame) as source:
        for _ in source:
            analysed += 1
        decoded = source.decoded_frames
    return {"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0,
            "decoded": decoded, "analysed": analysed}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    app = load_config(args.config)
    result: dict = {"date": datetime.now().astimezone().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                    "load_avg_1m": round(os.getloadavg()[0], 2), "cameras": {}}
    for cam in app.cameras:
        if not Path(str(cam.source)).exists():
            print(f"{cam.id}: skipped, {cam.source} is missing (benchmarks/make_clip.py makes it)", file=sys.stderr)
            continue
        runs: dict[str, list[dict[str, float]]] = {"analysed_only": [], "every_frame": []}
        for _ in range(args.repeat):
            runs["analysed_only"].append(one(cam, app.site.tz, False))
            runs["every_frame"].append(one(cam, app.site.tz, True))
        best = {k: min(v, key=lambda r: r["cpu_s"]) for k, v in runs.items()}
        result["cameras"][cam.id] = {
            "source": str(cam.source), "analysis_fps": cam.analysis_fps,
            **{k: {m: round(x, 2) if isinstance(x, float) else x for m, x in r.items()} for k, r in best.items()},
            "cpu_ratio": round(best["every_frame"]["cpu_s"] / best["analysed_only"]["cpu_s"], 2),
        }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
