"""The per-camera ring buffer of recent frames, kept JPEG-compressed so it stays small.

A violation is only reported ``grace_s`` after its condition began, and its clip must start
``pre_s`` before that, so the ring has to reach back ``pre_s + grace_s``: at 1080p and 5 fps that
is ~180 frames, about 1.1 GB as raw BGR but a few tens of MB as JPEG. The ring is bounded both by
age (``span_s``) and by count (``max_frames``), so a caller that feeds faster than the analysis
rate cannot grow it without limit.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import cv2
import numpy as np

from vision.evidence.overlay import Overlay


@dataclass(frozen=True, slots=True)
class BufferedFrame:
    """One compressed frame; ``scale`` maps source pixels to the stored image's pixels."""

    seq: int
    index: int
    ts: datetime
    jpeg: bytes
    width: int
    height: int
    scale: float
    overlay: Overlay
    analysed: bool = True  # False: a source frame between two analysed ones (held overlay)

    @property
    def nbytes(self) -> int:
        return len(self.jpeg)

    def decode(self) -> np.ndarray:
        image = cv2.imdecode(np.frombuffer(self.jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"buffered frame {self.index} does not decode as JPEG")
        return image


def prepare_image(image: np.ndarray, max_width: int) -> tuple[np.ndarray, float]:
    """Downscale to ``max_width`` and make both sides even, as yuv420p H.264 needs.

    Returns the image (BGR, uint8, 3 channels) and the factor applied to the source's pixels.
    """
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"frame image must be (H, W), (H, W, 3) or (H, W, 4); got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"frame image must be uint8; got {image.dtype}")
    h, w = image.shape[:2]
    scale = 1.0
    if w > max_width:
        scale = max_width / w
        nw, nh = max_width, max(2, round(h * scale))
        image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        h, w = nh, nw
    if h % 2 or w % 2:
        image = image[: h - h % 2, : w - w % 2]
    if h < 2 or w < 2:
        raise ValueError(f"frame image is too small to encode: {w}x{h}")
    return image, scale


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {image.shape}")
    return buf.tobytes()


class FrameRing:
    """Recent frames, oldest first, trimmed by age and by count."""

    def __init__(self, span_s: float, max_frames: int) -> None:
        if span_s <= 0:
            raise ValueError(f"span_s must be > 0; got {span_s}")
        if max_frames < 2:
            raise ValueError(f"max_frames must be >= 2; got {max_frames}")
        self.span = timedelta(seconds=span_s)
        self.max_frames = max_frames
        self._frames: deque[BufferedFrame] = deque()
        self._bytes = 0
        self._seq = 0
        self.evicted = 0

    @staticmethod
    def frames_for(span_s: float, fps: float) -> int:
        """Count cap: twice the frames ``span_s`` holds at ``fps``, for jitter and faster feeders."""
        return max(4, math.ceil(span_s * fps * 2) + 2)

    def append(self, index: int, ts: datetime, jpeg: bytes, width: int, height: int, scale: float,
               overlay: Overlay, *, analysed: bool = True) -> BufferedFrame:
        frame = BufferedFrame(self._seq, index, ts, jpeg, width, height, scale, overlay, analysed)
        self._seq += 1
        self._frames.append(frame)
        self._bytes += frame.nbytes
        # keep one frame older than the span, so the window [newest - span, newest] is fully covered
        while len(self._frames) > 2 and self._frames[1].ts <= ts - self.span:
            self._drop()
        while len(self._frames) > self.max_frames:
            self._drop()
        return frame

    def _drop(self) -> None:
        old = self._frames.popleft()
        self._bytes -= old.nbytes
        self.evicted += 1

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[BufferedFrame]:
        return iter(tuple(self._frames))

    @property
    def nbytes(self) -> int:
        """JPEG payload held now: the figure that bounds the ring's memory."""
        return self._bytes

    @property
    def newest(self) -> BufferedFrame | None:
        return self._frames[-1] if self._frames else None

    @property
    def oldest(self) -> BufferedFrame | None:
        return self._frames[0] if self._frames else None

    def after(self, seq: int) -> Iterator[BufferedFrame]:
        """Frames newer than sequence number ``seq``, oldest first."""
        for frame in tuple(self._frames):
            if frame.seq > seq:
                yield frame

    def closest(self, at: datetime) -> BufferedFrame | None:
        """The frame nearest ``at``: a clip's first frame, a snapshot. The oldest where ``at`` is older."""
        best, best_d = None, None
        for frame in self._frames:
            d = abs((frame.ts - at).total_seconds())
            if best_d is None or d < best_d:
                best, best_d = frame, d
        return best
