"""TellerWatch side by side with the loop a user writes from supervision's tutorials.

The peer is what the tutorials teach: decode every frame (``sv.get_video_frames_generator``,
OpenCV), run YOLOX-Nano through onnxruntime with hand-written letterbox and decoding, track with
ByteTrack from ``trackers``, count people per ``sv.PolygonZone`` and run a grace timer per zone
(the condition must hold ``grace_s`` to open a violation and be gone ``clear_s`` to end it). It
reads the zones, rules and model from the same config as TellerWatch, so both see the same clip,
model and zones; only the frame path differs.

The peer knows no staff: it implements ``dual_teller`` (fewer than ``min_staff`` people in the
zone) and ``non_staff_in_area`` (anyone in the zone; only meaningful with ``staff: {method:
nobody}``); other rules are left out of the comparison on both sides. It ignores business hours
(give the config ``00:00-24:00``).

Both run as separate processes (start-up, model load and decode included); the command reports
wall time, CPU seconds (user + system of each child), the violations each found and whether they
match (same rule and zone, start and end within ``--tolerance`` seconds).

    python benchmarks/make_clip.py ../shared/footage/bottle-detection.mp4 /tmp/cam139.mp4 --loops 4 --seconds 139
    python benchmarks/peer.py benchmarks/configs/baseline_139s_yolox.yaml [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
PEER_RULES = ("dual_teller", "non_staff_in_area")


# ---------------------------------------------------------------- the peer (tutorial loop)


class Yolox:
    """YOLOX-Nano through onnxruntime, the way its README's demo does it."""

    def __init__(self, path: Path, conf: float, iou: float) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0]
        self.h, self.w = (int(d) for d in self.input.shape[2:])
        self.conf, self.iou = conf, iou
        grids, strides = [], []
        for s in (8, 16, 32):
            yy, xx = np.meshgrid(np.arange(self.h // s), np.arange(self.w // s), indexing="ij")
            grids.append(np.stack([xx, yy], axis=-1).reshape(-1, 2))
            strides.append(np.full((len(grids[-1]), 1), s))
        self.grid = np.concatenate(grids).astype(np.float32)
        self.stride = np.concatenate(strides).astype(np.float32)

    def __call__(self, frame: np.ndarray) -> Any:
        import cv2
        import supervision as sv

        r = min(self.h / frame.shape[0], self.w / frame.shape[1])
        resized = cv2.resize(frame, (int(frame.shape[1] * r), int(frame.shape[0] * r)))
        img = np.full((self.h, self.w, 3), 114, np.uint8)
        img[: resized.shape[0], : resized.shape[1]] = resized
        blob = img.transpose(2, 0, 1)[None].astype(np.float32)
        out = self.session.run(None, {self.input.name: blob})[0][0]
        xy = (out[:, :2] + self.grid) * self.stride
        wh = np.exp(out[:, 2:4]) * self.stride
        scores = out[:, 4] * out[:, 5]  # objectness x person
        keep = scores >= self.conf
        xyxy = np.hstack([xy - wh / 2, xy + wh / 2])[keep] / r
        dets = sv.Detections(xyxy=xyxy, confidence=scores[keep], class_id=np.zeros(int(keep.sum()), int))
        return dets.with_nms(threshold=self.iou)


@dataclass
class Timer:
    """One zone's grace timer: condition held ``grace`` opens, absent ``clear`` ends."""

    rule: str
    zone: str
    grace: float
    clear: float
    since: float | None = None
    absent_since: float | None = None
    open: bool = False
    found: list[tuple[float, float]] = field(default_factory=list)

    def update(self, t: float, holds: bool) -> None:
        if holds:
            self.absent_since = None
            if self.since is None:
                self.since = t
            if not self.open and t - self.since >= self.grace - 1e-6:
                self.open = True
            return
        if self.since is None:
            return
        if self.absent_since is None:
            self.absent_since = t
        if t - self.absent_since >= self.clear - 1e-6:
            if self.open:
                self.found.append((self.since, self.absent_since))
            self.since = self.absent_since = None
            self.open = False

    def close(self, t: float) -> None:
        if self.open and self.since is not None:
            self.found.append((self.since, self.absent_since if self.absent_since is not None else t))


def run_peer(config: Path, events: Path) -> None:
    import supervision as sv
    from trackers import ByteTrackTracker

    from vision.config import load_config

    app = load_config(config)
    cam = app.cameras[0]
    if app.detector.type.value != "yolox-onnx" or app.detector.model is None:
        raise SystemExit("the peer runs YOLOX via onnxruntime: the config needs detector type yolox-onnx")
    model = Yolox(app.detector.model, app.detector.confidence, app.detector.nms_iou)
    info = sv.VideoInfo.from_video_path(str(cam.source))
    tracker = ByteTrackTracker(frame_rate=info.fps)
    wh = np.array([info.width, info.height])
    zones = {z.name: sv.PolygonZone(polygon=(z.points * wh).astype(int)) for z in cam.zones}
    timers: list[tuple[Timer, Any]] = []
    for rule in cam.rules:
        if rule.type == "dual_teller":
            need = int(getattr(rule, "min_staff", 2))
            timers.append((Timer(rule.type, rule.zone, rule.grace_s, rule.clear_s), lambda n, need=need: n < need))
        elif rule.type == "non_staff_in_area" and cam.staff.method.value == "nobody":
            timers.append((Timer(rule.type, rule.zone, rule.grace_s, rule.clear_s), lambda n: n > 0))
    t = 0.0
    for index, frame in enumerate(sv.get_video_frames_generator(str(cam.source))):
        dets = tracker.update(model(frame))
        t = index / info.fps
        counts = {name: int(pz.trigger(dets).sum()) for name, pz in zones.items()}
        for timer, holds in timers:
            timer.update(t, holds(counts[timer.zone]))
    start = cam.replay_start
    assert start is not None, "the comparison needs replay_start"
    with events.open("w", encoding="utf-8") as fh:
        for timer, _ in timers:
            timer.close(t)
            for a, b in timer.found:
                fh.write(json.dumps({"rule": timer.rule, "zone": timer.zone,
                                     "started_at": (start + timedelta(seconds=a)).isoformat(),
                                     "ended_at": (start + timedelta(seconds=b)).isoformat()}) + "\n")


# ---------------------------------------------------------------- side by side


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


Span = tuple[str, str, datetime, datetime]


def spans(path: Path) -> list[Span]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        v = json.loads(line)
        if v["rule"] in PEER_RULES:
            out.append((v["rule"], v["zone"], datetime.fromisoformat(v["started_at"]),
                        datetime.fromisoformat(v["ended_at"])))
    return sorted(out, key=lambda s: s[2])


def same(a: list[Span], b: list[Span], tol: float) -> bool:
    return len(a) == len(b) and all(
        x[:2] == y[:2] and abs((x[2] - y[2]).total_seconds()) <= tol and abs((x[3] - y[3]).total_seconds()) <= tol
        for x, y in zip(a, b, strict=True)
    )


def shown(s: list[Span]) -> list[str]:
    return [f"{r} {z} {a.time().isoformat('seconds')}-{b.time().isoformat('seconds')}" for r, z, a, b in s]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", type=Path)
    ap.add_argument("--tolerance", type=float, default=3.0, help="seconds a start or end may differ")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--peer-only", type=Path, metavar="EVENTS", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.peer_only:
        run_peer(args.config, args.peer_only)
        return 0
    from vision.config import load_config

    source = Path(str(load_config(args.config).cameras[0].source))
    if not source.exists():
        print(f"skipped: {source} is missing (make it with benchmarks/make_clip.py from ../shared/footage)",
              file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        env = dict(os.environ, TELLERWATCH_DATA_DIR=str(tmpd / "data"))
        ours_events, peer_events = tmpd / "ours.jsonl", tmpd / "peer.jsonl"
        ours_wall, ours_cpu = timed([sys.executable, "-m", "tellerwatch", "run", str(args.config), "--no-clips",
                                     "--quiet", "--events-jsonl", str(ours_events)], env)
        peer_wall, peer_cpu = timed([sys.executable, str(Path(__file__).resolve()), str(args.config),
                                     "--peer-only", str(peer_events)], env)
        a, b = spans(ours_events), spans(peer_events)
    result = {
        "config": str(args.config),
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "tellerwatch": {"wall_s": round(ours_wall, 2), "cpu_s": round(ours_cpu, 2), "violations": shown(a)},
        "peer": {"wall_s": round(peer_wall, 2), "cpu_s": round(peer_cpu, 2), "violations": shown(b)},
        "wall_ratio": round(peer_wall / ours_wall, 2),
        "cpu_ratio": round(peer_cpu / ours_cpu, 2),
        "same_violations": same(a, b, args.tolerance),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
