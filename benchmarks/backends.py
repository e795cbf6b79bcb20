"""Each detector model on each inference engine: time per call on the same frames, same boxes.

For every model the engines run the same frames in one process, interleaved frame by frame so
machine load hits them alike; the first engine listed is the reference and each other one is
checked against it (``agree``: confident boxes matched one to one at IoU >= 0.9 and confidence
within 0.02, and again within 0.05; a box that close to the threshold may be on either side).

    python benchmarks/backends.py [--frames 40] [--json OUT]

Frames: the first analysed frames of ../shared/footage/bottle-detection.mp4 and classroom.gif
(skipped with a reason where ../shared is absent; the embedded SSD then runs on the sample scenes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import av
import numpy as np
import supervision as sv

from vision.config import DetectorConfig
from vision.detectors import Detector, build_detector

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
MODELS = {  # model label -> (type, file under ../shared/models, engines: reference first)
    "SSD MobileNet v2 (embedded)": ("ssd-mobilenet", None, ("opencv", "openvino")),
    "YOLOX-Nano 416": ("yolox-onnx", "yolox_nano_416x416.onnx", ("onnxruntime", "openvino")),
    "YOLOv8n int8 640": ("yolo-onnx", "yolov8n_int8.onnx", ("onnxruntime", "openvino")),
}


def frames(limit: int) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for name, step in (("bottle-detection.mp4", 5), ("classroom.gif", 1)):
        path = SHARED / "footage" / name
        if not path.exists():
            continue
        with av.open(str(path)) as c:
            for i, f in enumerate(c.decode(video=0)):
                if i % step == 0:
                    out.append(f.to_ndarray(format="bgr24"))
                if len(out) >= limit * (2 if name == "classroom.gif" else 1):
                    break
    return out


def agree(det: Detector, got: sv.Detections, want: sv.Detections, *, iou: float = 0.9, tol: float = 0.02) -> bool:
    """Same confident boxes: each one matched at ``iou`` with confidence within ``tol``; boxes
    within ``tol`` of ``confidence`` need no partner (they may fall either side of it)."""
    thr = det.cfg.confidence

    def sure(d: sv.Detections) -> sv.Detections:
        assert d.confidence is not None
        return d[d.confidence >= thr + tol]

    def near(d: sv.Detections) -> sv.Detections:
        assert d.confidence is not None
        return d[d.confidence >= thr - tol]

    for a, b in ((sure(got), near(want)), (sure(want), near(got))):
        if len(a) == 0:
            continue
        if len(b) == 0:
            return False
        m = sv.box_iou_batch(a.xyxy, b.xyxy)
        same_class = a.class_id[:, None] == b.class_id[None, :]
        m = np.where(same_class, m, 0.0)
        j = m.argmax(axis=1)
        assert a.confidence is not None and b.confidence is not None
        if not (np.all(m[np.arange(len(a)), j] >= iou) and np.all(np.abs(a.confidence - b.confidence[j]) <= tol)):
            return False
    return True


def measure(kind: str, model: Path | None, engines: tuple[str, ...], images: list[np.ndarray]) -> dict:
    dets = {}
    for engine in engines:
        t0 = time.perf_counter()
        dets[engine] = build_detector(DetectorConfig(type=kind, model=model, backend=engine))
        dets[engine].load_s = time.perf_counter() - t0  # type: ignore[attr-defined]
    times: dict[str, list[float]] = {e: [] for e in engines}
    found: dict[str, list[sv.Detections]] = {e: [] for e in engines}
    for image in images:
        for engine in engines:
            t0 = time.perf_counter()
            found[engine].append(dets[engine].detect(image))
            times[engine].append((time.perf_counter() - t0) * 1000)
    ref = engines[0]
    out = {}
    for engine in engines:
        pairs = list(zip(found[engine], found[ref], strict=True))
        ok = {tol: sum(agree(dets[ref], g, w, tol=tol) for g, w in pairs) for tol in (0.02, 0.05)}
        out[engine] = {
            "p50_ms": round(statistics.median(times[engine]), 1),
            "mean_ms": round(statistics.fmean(times[engine]), 1),
            "load_s": round(dets[engine].load_s, 1),  # type: ignore[attr-defined]
            f"frames_agreeing_with_{ref}_conf_0.02": f"{ok[0.02]}/{len(images)}",
            f"frames_agreeing_with_{ref}_conf_0.05": f"{ok[0.05]}/{len(images)}",
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    images = frames(args.frames)
    if not images:
        print(f"skipped: no footage under {SHARED / 'footage'}", file=sys.stderr)
        return 0
    result: dict = {"date": datetime.now().astimezone().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                    "load_avg_1m": round(os.getloadavg()[0], 2), "frames": len(images), "models": {}}
    for label, (kind, file, engines) in MODELS.items():
        model = SHARED / "models" / file if file else None
        if model is not None and not model.exists():
            print(f"{label}: skipped, {model} is missing", file=sys.stderr)
            continue
        result["models"][label] = measure(kind, model, engines, images)
        print(label, json.dumps(result["models"][label]), file=sys.stderr)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
