"""Render the sample scenes: ``python -m sample_videos.generate [--out DIR] [--only NAME ...] [--check]``.

For each scene in ``sample_videos.scenes.SCENES`` this writes ``NAME.mp4`` (1280 x 720, 10 fps,
H.264), ``NAME.yaml`` (a config that runs it) and ``NAME.json`` (ground truth in the ``eval``
format), plus ``manifest.json`` with each file's size and SHA-256.

The output is bit-for-bit reproducible: every picture is integer arithmetic with fixed seeds,
the RGB -> YUV conversion is done here in integers (not by swscale), libx264 runs with one
thread and fixed options, and no clock time goes into the pixels or the container. ``--check``
renders into a temporary folder and compares the bytes with what is in ``--out``.
``--measure`` runs the embedded SSD detector over the encoded frames and reports, per scene,
how often each person in full view is found.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np

from sample_videos import render as R
from sample_videos.scenes import FPS, SCENES, FrameTruth, Scene, config_yaml, ground_truth, tampered_frame

DEFAULT_OUT = Path(__file__).resolve().parent / "scenes"
CRF = 30
GOP = 100  # a key frame every 10 s: the scenes are mostly still
X264_PARAMS = ":".join([
    "threads=1", "lookahead-threads=1", "sliced-threads=0",  # one thread: the same bits on every machine
    "colorprim=smpte170m", "transfer=smpte170m", "colormatrix=smpte170m",  # BT.601, as converted below
])


def bgr_to_yuv420p(bgr: np.ndarray) -> np.ndarray:
    """BT.601 limited-range I420 in integer arithmetic: (H * 3 / 2, W) uint8."""
    h, w = bgr.shape[:2]
    b, g, r = (bgr[..., i].astype(np.int32) for i in range(3))
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    # chroma from the 2 x 2 mean
    def pool(c: np.ndarray) -> np.ndarray:
        return (c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2] + 2) >> 2

    rb, gb, bb = pool(r), pool(g), pool(b)
    u = ((-38 * rb - 74 * gb + 112 * bb + 128) >> 8) + 128
    v = ((112 * rb - 94 * gb - 18 * bb + 128) >> 8) + 128
    out = np.empty((h * 3 // 2, w), np.uint8)
    out[:h] = np.clip(y, 0, 255)
    out[h:h + h // 4] = np.clip(u, 0, 255).reshape(h // 4, w)
    out[h + h // 4:] = np.clip(v, 0, 255).reshape(h // 4, w)
    return out


class Encoder:
    """H.264 MP4 writer with every knob that could vary pinned down."""

    def __init__(self, path: Path, width: int = R.W, height: int = R.H, fps: int = FPS) -> None:
        import av

        self._av = av
        self.container = av.open(str(path), mode="w", format="mp4",
                                 options={"movflags": "+faststart", "fflags": "+bitexact"})
        self.container.metadata.clear()
        s = self.container.add_stream("libx264", rate=fps)
        s.width, s.height = width, height
        s.pix_fmt = "yuv420p"
        s.time_base = Fraction(1, fps)
        s.codec_context.time_base = Fraction(1, fps)
        s.codec_context.gop_size = GOP
        s.codec_context.thread_count = 1
        # no library version strings in the stream or the container: bytes must not change with
        # an FFmpeg point release that encodes identically
        s.codec_context.flags |= int(av.codec.context.Flags.bitexact)
        s.options = {"crf": str(CRF), "preset": "medium", "tune": "stillimage", "threads": "1",
                     "x264-params": X264_PARAMS, "bf": "2", "g": str(GOP), "keyint_min": str(GOP)}
        self.stream = s
        self.index = 0

    def write(self, bgr: np.ndarray, pts: int | None = None) -> None:
        """The next frame, at ``pts`` (in 1/FPS) where the recording has a hole before it: that
        frame is a key frame, as a recorder starts again with one."""
        frame = self._av.VideoFrame.from_ndarray(bgr_to_yuv420p(bgr), format="yuv420p")
        frame.pts = self.index if pts is None else pts
        if frame.pts > self.index:
            frame.pict_type = self._av.video.frame.PictureType.I
        frame.time_base = Fraction(1, FPS)
        self.index = frame.pts + 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()


@dataclass
class Rendered:
    scene: Scene
    truths: list[FrameTruth]
    files: dict[str, Path]
    seconds: float


def stamp_for(scene: Scene, t: float) -> str:
    ts = scene.replay_start + timedelta(seconds=int(t))
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def frame_truth(scene: Scene, stage, t: float, drawn) -> FrameTruth:
    items = [(p.item.kind, R.item_box(p.item), p.t_on) for p in stage.items if p.t_on <= t < p.t_off]
    door = {}
    for a in stage.actors:
        pose = a.pose(t)
        if pose is not None:
            door[a.name] = pose.door
    return FrameTruth(t=t, drawn=drawn, items=items, door=door)


def render_scene(scene: Scene, out: Path, *, frames_to: Path | None = None) -> Rendered:
    """Render, encode and describe one scene into ``out``."""
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    stage = scene.build()
    video = out / f"{scene.name}.mp4"
    enc = Encoder(video)
    truths = []
    for t in scene.frame_times:  # every 1/FPS s, less the recording's holes
        i = int(round(t * FPS))
        frame, drawn = stage.compose(t, stamp_for(scene, t))
        frame = tampered_frame(frame, scene.view(t))
        truths.append(frame_truth(scene, stage, t, drawn))
        enc.write(frame, i)
        if frames_to is not None and i % (5 * FPS) == 0:
            import cv2

            frames_to.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(frames_to / f"{scene.name}_{i:04d}.png"), frame)
    enc.close()
    cfg = out / f"{scene.name}.yaml"
    cfg.write_text(config_yaml(scene, video.name), encoding="utf-8")
    gt = out / f"{scene.name}.json"
    gt.write_text(json.dumps(ground_truth(scene, truths), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return Rendered(scene, truths, {"mp4": video, "yaml": cfg, "json": gt}, time.perf_counter() - t0)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(out: Path, scenes: list[Scene]) -> Path:
    entries = {}
    for s in scenes:
        files = {}
        for ext in ("mp4", "yaml", "json"):
            p = out / f"{s.name}.{ext}"
            files[p.name] = {"bytes": p.stat().st_size, "sha256": sha256(p)}
        entries[s.name] = {"duration_s": s.duration_s, "frames": s.n_frames, "fps": FPS, "files": files}
    path = out / "manifest.json"
    path.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- detection check
def decoded_frames(video: Path):
    import av

    with av.open(str(video)) as c:
        for frame in c.decode(video=0):
            yield frame.to_ndarray(format="bgr24")


def measure(rendered: Rendered, step: int = 1, confidence: float = 0.4) -> dict:
    """Per person: in how many sampled frames where they are in full view the SSD finds them."""
    from sample_videos.ssd import PersonDetector, matched

    det = PersonDetector(confidence=confidence)
    seen: dict[str, list[int]] = {}
    for i, bgr in enumerate(decoded_frames(rendered.files["mp4"])):
        if i % step or i >= len(rendered.truths):
            continue
        truth = [d for d in rendered.truths[i].drawn if d.full_view and d.box is not None]
        if not truth:
            continue
        boxes = np.array([d.box for d in truth], np.float64)
        found = det.persons(bgr)
        hit = matched(boxes, found[:, :4])
        for d, h in zip(truth, hit, strict=True):
            seen.setdefault(d.name, [0, 0])
            seen[d.name][0] += int(h)
            seen[d.name][1] += 1
    total_hit = sum(v[0] for v in seen.values())
    total = sum(v[1] for v in seen.values())
    return {
        "backend": det.backend,
        "persons": {k: {"found": v[0], "frames": v[1], "rate": round(v[0] / max(v[1], 1), 4)} for k, v in seen.items()},
        "rate": round(total_hit / max(total, 1), 4),
        "min_person_rate": round(min((v[0] / max(v[1], 1) for v in seen.values()), default=1.0), 4),
    }


# ----------------------------------------------------------------------------- command line
def check(scenes: list[Scene], out: Path) -> int:
    """Render into a temporary folder and compare with the files in ``out``: 0 if all match, else 1."""
    bad = []
    with tempfile.TemporaryDirectory(prefix="tellerwatch-scenes-") as tmp:
        for s in scenes:
            r = render_scene(s, Path(tmp))
            for p in r.files.values():
                committed = out / p.name
                same = committed.is_file() and sha256(committed) == sha256(p)
                print(f"{'ok  ' if same else 'DIFF'} {committed}")
                if not same:
                    bad.append(committed)
    if bad:
        print(f"{len(bad)} file(s) differ from a fresh render", file=sys.stderr)
        return 1
    return 0


def render_all(scenes: list[Scene], out: Path, frames: Path | None, only: bool) -> list[Rendered]:
    results = []
    for s in scenes:
        r = render_scene(s, out, frames_to=frames)
        size = r.files["mp4"].stat().st_size
        print(f"{s.name:14s} {s.duration_s:5.1f} s  {size / 1e6:5.2f} MB  rendered in {r.seconds:5.1f} s", flush=True)
        results.append(r)
    if not only:
        write_manifest(out, scenes)
    else:
        # keep the manifest whole: refresh only the entries of the scenes just made
        path = out / "manifest.json"
        if path.is_file():
            write_manifest(out, [s for s in SCENES if (out / f"{s.name}.mp4").is_file()])
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sample_videos.generate", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="just these scenes: " + ", ".join(s.name for s in SCENES))
    ap.add_argument("--check", action="store_true", help="render into a temporary folder and compare with --out")
    ap.add_argument("--measure", action="store_true", help="run the SSD detector and report detection rates")
    ap.add_argument("--measure-step", type=int, default=1, help="--measure every Nth frame (default 1)")
    ap.add_argument("--frames", type=Path, help="also write a PNG every 5 s here (for looking at)")
    args = ap.parse_args(argv)
    known = {s.name: s for s in SCENES}
    if args.only:
        unknown = [n for n in args.only if n not in known]
        if unknown:
            print(f"error: unknown scene(s) {', '.join(unknown)}; choose from {', '.join(known)}", file=sys.stderr)
            return 2
    scenes = [known[n] for n in args.only] if args.only else list(SCENES)

    if args.check:
        return check(scenes, args.out)
    results = render_all(scenes, args.out, args.frames, bool(args.only))
    if args.measure:
        for r in results:
            m = measure(r, step=args.measure_step)
            per = ", ".join(f"{k} {v['rate']:.3f} ({v['found']}/{v['frames']})" for k, v in m["persons"].items())
            print(f"{r.scene.name:14s} detection {m['rate']:.3f} (lowest person {m['min_person_rate']:.3f}) "
                  f"[{m['backend']}]: {per}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
