"""Re-encode a clip as a typical camera sub-stream: 640x360, 25 fps, H.264, a keyframe every 2 s.

    python benchmarks/make_clip.py SRC /tmp/cam640x360.mp4 [--loops 4] [--seconds 139]

``--loops`` repeats the clip to make a longer one (e.g. a 139 s clip for the baseline comparison).
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--loops", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=None, help="cut the result to this length")
    args = ap.parse_args(argv)
    frames = []
    with av.open(str(args.src)) as c:
        stream = c.streams.video[0]
        for f in c.decode(stream):
            t = float(f.pts * f.time_base) if f.pts is not None else len(frames) / float(stream.average_rate or 25)
            frames.append((t, cv2.resize(f.to_ndarray(format="bgr24"), (args.width, args.height))))
    t0 = frames[0][0]
    span = frames[-1][0] - t0 + 1.0 / args.fps
    with av.open(str(args.dst), "w") as out:
        s = out.add_stream("libx264", rate=args.fps)
        s.width, s.height, s.pix_fmt = args.width, args.height, "yuv420p"
        s.options = {"preset": "veryfast", "crf": "26", "g": str(2 * args.fps)}
        s.codec_context.time_base = Fraction(1, args.fps)
        n = int(span * args.fps) * args.loops
        if args.seconds is not None:
            n = min(n, int(args.seconds * args.fps))
        j = 0
        for i in range(n):
            t = t0 + (i / args.fps) % span
            while j + 1 < len(frames) and frames[j + 1][0] <= t:
                j += 1
            if frames[j][0] > t:
                j = 0
                while j + 1 < len(frames) and frames[j + 1][0] <= t:
                    j += 1
            vf = av.VideoFrame.from_ndarray(frames[j][1], format="bgr24")
            vf.pts = i
            for p in s.encode(vf):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    print(f"{args.dst}: {n} frames, {n / args.fps:.1f} s at {args.fps} fps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
