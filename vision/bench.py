"""``tellerwatch bench``: where each millisecond goes, and how many cameras a box carries.

The run is the real pipeline (``vision.runner.run``) over the config's cameras, optionally
replicated N times to load the box like N cameras would. Stage latencies come from the stages
themselves (``StageTimes``); CPU use and peak memory from the process's own resource counters.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from typing import Any

from vision.config import AppConfig
from vision.runner import RunReport, run

PIPELINE_STAGES = ("track", "zones", "staff", "items", "rules", "evidence", "tamper")


def replicate(app: AppConfig, copies: int) -> AppConfig:
    """The same config with every camera repeated ``copies`` times (ids suffixed)."""
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    if copies == 1:
        return app
    cams = [c.model_copy(update={"id": f"{c.id}-{k}"}) for k in range(copies) for c in app.cameras]
    new = app.model_copy(update={"cameras": cams})
    new._path = app.path
    return new


def bench(
    app: AppConfig,
    *,
    data_dir: Path,
    copies: int = 1,
    clips: bool = True,
    motion_gating: bool | None = None,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    cfg = replicate(app, copies)
    cpu0 = os.times()
    wall0 = time.perf_counter()
    report: RunReport = run(cfg, data_dir=data_dir, clips=clips, motion_gating=motion_gating,
                            max_seconds=max_seconds)
    wall = time.perf_counter() - wall0
    cpu1 = os.times()
    cpu_s = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    stages = report.times.summary()
    frames = sum(r.frames for r in report.cameras.values())
    detections = sum(r.detections_run for r in report.cameras.values())
    media_s = sum(r.last_t for r in report.cameras.values())
    per_camera_media = media_s / max(1, len(report.cameras))
    detect_p50 = stages.get("detect", {}).get("p50_ms", 0.0) + stages.get("preprocess", {}).get("p50_ms", 0.0)
    non_model_p50 = sum(stages.get(s, {}).get("p50_ms", 0.0) for s in PIPELINE_STAGES)
    gating = motion_gating if motion_gating is not None else all(c.motion.enabled for c in cfg.cameras)
    motion = None
    if gating and "motion" in stages:
        gate = stages["motion"]
        saved = frames - detections
        detect_mean = stages.get("detect", {}).get("mean_ms", 0.0) + stages.get("preprocess", {}).get("mean_ms", 0.0)
        gate_total_ms = gate["mean_ms"] * gate["count"]
        motion = {
            "gate_p50_ms": gate["p50_ms"],
            "gate_mean_ms": gate["mean_ms"],
            "gate_total_s": round(gate_total_ms / 1000, 3),
            "frames_checked": int(gate["count"]),
            "detector_runs_saved": saved,
            "saved_share": round(saved / frames, 4) if frames else 0.0,
            # the detector time those runs would have cost, at this run's mean detect time
            "detector_s_saved": round(saved * detect_mean / 1000, 3),
            "net_s_saved": round((saved * detect_mean - gate_total_ms) / 1000, 3),
        }
    return {
        "cameras": len(report.cameras),
        "detector": app.detector.type.value,
        "motion_gating": gating,
        "motion": motion,
        "stages": {k: {m: v[m] for m in ("p50_ms", "p95_ms", "p99_ms", "count")} for k, v in stages.items()},
        "frames": frames,
        "detector_runs": detections,
        "fps": round(frames / wall, 2) if wall > 0 else 0.0,
        "wall_s": round(wall, 3),
        "media_s_per_camera": round(per_camera_media, 3),
        # >= 1.0: every camera was processed at least as fast as it plays, i.e. in real time
        "realtime_factor": round(per_camera_media / wall, 3) if wall > 0 else 0.0,
        "cpu_s": round(cpu_s, 3),
        "cpu_percent": round(100.0 * cpu_s / wall, 1) if wall > 0 else 0.0,
        "cpu_count": os.cpu_count(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "non_model_p50_ms": round(non_model_p50, 3),
        "detector_p50_ms": round(detect_p50, 3),
        "non_model_share_of_detector": round(non_model_p50 / detect_p50, 4) if detect_p50 else None,
        "violations": len(report.violations),
        "errors": {cid: r.error for cid, r in report.cameras.items() if r.error},
    }
