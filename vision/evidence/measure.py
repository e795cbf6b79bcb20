"""Measure the ring buffer's memory per camera: ``python -m vision.evidence.measure``.

The README's figure comes from here, so anyone can re-measure on their own footage
(``--video PATH``, scaled to ``--width`` x ``--height``). Without a video, frames are synthetic
but camera-like: a textured scene, moving people-sized blocks and per-frame sensor noise, which
JPEG compresses about as badly as a real 1080p CCTV picture (flat synthetic frames would make the
figure look far better than reality).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.evidence.overlay import Overlay
from vision.evidence.ring import FrameRing, encode_jpeg, prepare_image


def synthetic_scene(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A static textured background: gradient, mid-frequency texture, a few 'counter' edges."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 90 + 60 * (x / width) + 30 * (y / height)
    texture = cv2.GaussianBlur(rng.normal(0, 40, (height, width)).astype(np.float32), (0, 0), 2.0)
    scene = np.stack([base + texture, base * 0.9 + texture, base * 0.8 + texture], axis=-1)
    for k in range(6):
        y0 = int(height * (0.3 + 0.1 * k))
        cv2.line(scene, (0, y0), (width, y0 + k * 7), (40.0, 40.0, 40.0), max(1, height // 270))
    return np.clip(scene, 0, 255).astype(np.uint8)


def synthetic_frame(scene: np.ndarray, i: int, noise: list[np.ndarray] | None = None) -> np.ndarray:
    """The scene with people-sized blocks moving across it and sensor noise (cycled from ``noise``)."""
    height, width = scene.shape[:2]
    img = scene.copy()
    for k, color in enumerate(((40, 40, 200), (200, 60, 40), (60, 180, 60))):
        w, h = width // 10, height // 3
        x0 = int((i * width / 60 + k * width / 3) % (width - w))
        y0 = int(height * 0.35 + k * height * 0.1)
        cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), color, -1)
    if noise:
        img = cv2.add(img, noise[i % len(noise)], dtype=cv2.CV_8U)
    return img


def sensor_noise(width: int, height: int, sigma: float = 3.0, count: int = 5,
                 seed: int = 1) -> list[np.ndarray]:
    """A few fields of zero-mean noise, offset by +8 so cv2.add on uint8 needs no signed maths."""
    rng = np.random.default_rng(seed)
    return [np.clip(rng.normal(8, sigma, (height, width, 3)), 0, 255).astype(np.uint8) for _ in range(count)]


def _video_frames(path: Path, width: int, height: int) -> Iterator[np.ndarray]:
    while True:
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise SystemExit(f"cannot open video {path}")
        got = False
        while True:
            ok, img = cap.read()
            if not ok:
                break
            got = True
            yield cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)
        cap.release()
        if not got:
            raise SystemExit(f"no frames in video {path}")


def _synthetic_frames(width: int, height: int) -> Iterator[np.ndarray]:
    scene = synthetic_scene(width, height)
    noise = sensor_noise(width, height)
    i = 0
    while True:
        yield synthetic_frame(scene, i, noise)
        i += 1


def measure_ring(width: int = 1920, height: int = 1080, fps: float = 5.0, span_s: float = 5.0,
                 seconds: float = 12.0, quality: int = 80, max_width: int = 1920,
                 video: Path | None = None) -> dict[str, Any]:
    """Fill a ring of ``span_s`` at ``fps`` for ``seconds`` and report what it holds."""
    ring = FrameRing(span_s, FrameRing.frames_for(span_s, fps))
    frames = _video_frames(video, width, height) if video else _synthetic_frames(width, height)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    n = math.ceil(seconds * fps)
    peak = 0
    sizes: list[int] = []
    jpeg_ms: list[float] = []
    for i in range(n):
        img = next(frames)
        start = time.perf_counter()
        small, scale = prepare_image(img, max_width)
        jpeg = encode_jpeg(small, quality)
        jpeg_ms.append((time.perf_counter() - start) * 1000)
        sizes.append(len(jpeg))
        ts = t0 + timedelta(seconds=i / fps)
        ring.append(i, ts, jpeg, small.shape[1], small.shape[0], scale, Overlay())
        peak = max(peak, ring.nbytes)
    per_frame = float(np.mean(sizes))
    return {
        "width": width, "height": height, "fps": fps, "span_s": span_s, "jpeg_quality": quality,
        "frames_held": len(ring), "bytes_held": ring.nbytes, "peak_bytes": peak,
        "mean_jpeg_bytes": round(per_frame), "max_jpeg_bytes": max(sizes),
        "raw_bgr_bytes_per_frame": width * height * 3,
        "count_cap_frames": ring.max_frames,
        "hard_bound_bytes": ring.max_frames * max(sizes),
        "jpeg_encode_ms_p50": round(float(np.median(jpeg_ms)), 2),
        "source": str(video) if video else "synthetic",
    }


def measure_clip(width: int = 1920, height: int = 1080, fps: float = 5.0, length_s: float = 10.0,
                 pre_s: float = 5.0, post_s: float = 5.0, preset: str = "ultrafast") -> dict[str, Any]:
    """One violation through a real recorder: worker time per clip and per frame, file sizes."""
    import tempfile

    from vision.config import CameraConfig
    from vision.events import ChangeKind, Violation, ViolationChange, ViolationState
    from vision.evidence.recorder import EvidenceRecorder, sha256_file
    from vision.frames import Frame

    cam = CameraConfig.model_validate({
        "id": "measure", "source": "rtsp://127.0.0.1/measure", "analysis_fps": fps,
        "zones": [{"name": "area", "kind": "teller_area", "polygon": [[0, 0.4], [1, 0.4], [1, 1], [0, 1]]}],
        "rules": [{"type": "non_staff_in_area", "zone": "area", "grace_s": 2, "clear_s": 3}],
        "evidence": {"pre_s": pre_s, "post_s": post_s, "clip_preset": preset},
    })
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    start_s = pre_s + 1.0
    end_s = start_s + length_s
    base = dict(id="measure1", site="s", camera="measure", rule="non_staff_in_area", zone="area")
    opened = Violation(**base, state=ViolationState.open, started_at=t0 + timedelta(seconds=start_s),
                       duration_s=0)
    closed = opened.model_copy(update={"state": ViolationState.ended, "duration_s": length_s,
                                       "ended_at": t0 + timedelta(seconds=end_s)})
    frames = _synthetic_frames(width, height)
    with tempfile.TemporaryDirectory() as tmp:
        rec = EvidenceRecorder(cam, Path(tmp), backpressure_s=60)
        wall = time.perf_counter()
        n = math.ceil((end_s + post_s + 5) * fps)
        for i in range(n):
            t = i / fps
            rec.add_frame(Frame("measure", i, t, t0 + timedelta(seconds=t), next(frames)))
            if abs(t - (start_s + 2)) < 0.5 / fps:
                rec.on_change(ViolationChange(kind=ChangeKind.started, violation=opened))
            if abs(t - (end_s + 3)) < 0.5 / fps:
                rec.on_change(ViolationChange(kind=ChangeKind.ended, violation=closed))
        rec.close()
        wall = time.perf_counter() - wall
        (done,) = rec.finished()
        stats = rec.stats()
        clip = Path(tmp) / str(done.clip)
        annotated = Path(tmp) / str(done.details["clip_annotated"])
        hashed = time.perf_counter()
        for path in (Path(tmp) / str(done.snapshot), clip, annotated):
            sha256_file(path)  # what the recorder adds per violation for details.*_sha256
        hashed = time.perf_counter() - hashed
        return {
            "width": width, "height": height, "fps": fps, "preset": preset,
            "clip_duration_s": done.details.get("clip_duration_s"),
            "clip_frames": done.details.get("clip_frames"),
            "encode_ms_per_clip": round(stats.encode_ms),
            "encode_ms_per_frame": round(stats.encode_ms / max(1, done.details.get("clip_frames", 1)), 1),
            "jpeg_ms_per_frame": round(stats.jpeg_ms / max(1, stats.frames_buffered), 1),
            "raw_clip_bytes": clip.stat().st_size, "annotated_clip_bytes": annotated.stat().st_size,
            "sha256_ms_snapshot_and_both_clips": round(hashed * 1000, 1),
            "frames_dropped": stats.frames_dropped, "wall_s_including_frame_synthesis": round(wall, 1),
            "errors": done.details.get("evidence_error"),
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vision.evidence.measure",
                                description=(__doc__ or "").splitlines()[0])
    p.add_argument("--width", type=int, default=1920)
    p.add_argument("--height", type=int, default=1080)
    p.add_argument("--fps", type=float, default=5.0, help="analysis fps (frames the ring receives)")
    p.add_argument("--span", type=float, default=5.0,
                   help="seconds held: pre_s alone, or pre_s + the longest grace_s as the recorder does")
    p.add_argument("--quality", type=int, default=80)
    p.add_argument("--max-width", type=int, default=1920)
    p.add_argument("--video", type=Path, default=None)
    p.add_argument("--clip", type=float, default=None, metavar="SECONDS",
                   help="instead: encode one violation this long (plus pre/post roll) and time it")
    p.add_argument("--preset", default="ultrafast")
    args = p.parse_args(argv)
    if args.clip is not None:
        print(json.dumps(measure_clip(args.width, args.height, args.fps, args.clip, preset=args.preset),
                         indent=2))
        return 0
    result = measure_ring(args.width, args.height, args.fps, args.span, seconds=args.span * 2 + 2,
                          quality=args.quality, max_width=args.max_width, video=args.video)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
