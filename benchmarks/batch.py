"""ms per frame at batch 1 vs 2/4/8 per shared ONNX model, with detector.dynamic_batch (issue 21 item 3).

    .venv/bin/python benchmarks/batch.py [--repeat 3] [--rounds 8]

Batch 1 and batched calls run back to back in one process (the box is shared); each figure is
the median of ``--repeat`` runs of ``--rounds`` calls.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.footage import read_frames
from vision.config import DetectorConfig
from vision.detectors import build_detector

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MODELS = {"yolox-onnx": "yolox_nano_416x416.onnx", "yolo-onnx": "yolov8n_int8.onnx"}


def ms_per_frame(det: object, imgs: list[np.ndarray], batch: int, rounds: int) -> float:
    t0 = time.perf_counter()
    for r in range(rounds):
        chunk = [imgs[(r * batch + i) % len(imgs)] for i in range(batch)]
        if batch == 1:
            det.detect(chunk[0])  # type: ignore[attr-defined]
        else:
            det.detect_batch(chunk)  # type: ignore[attr-defined]
    return (time.perf_counter() - t0) * 1000 / (rounds * batch)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    imgs = read_frames(SHARED / "footage" / "worker-zone-detection.gif", 16)
    for kind, name in MODELS.items():
        det = build_detector(DetectorConfig(type=kind, model=str(SHARED / "models" / name), dynamic_batch=True))
        det.detect(imgs[0])  # warm-up
        row = [f"{name} batched={det.supports_batch}"]
        for batch in (1, 2, 4, 8):
            runs = [ms_per_frame(det, imgs, batch, args.rounds) for _ in range(args.repeat)]
            row.append(f"b{batch} {statistics.median(runs):.1f} ms/frame")
        print(" | ".join(row), flush=True)


if __name__ == "__main__":
    main()
