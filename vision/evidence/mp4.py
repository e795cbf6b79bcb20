"""Writing browser-playable H.264 clips with PyAV, and checking them.

Frames reach the recorder at the analysis rate (e.g. 5 fps) with uneven spacing, so the clip is
variable-frame-rate: each frame's pts is its wall-clock offset from the clip's first frame in
milliseconds, which keeps the clip's duration equal to the time it covers. The file is written
as ``<name>.part`` and renamed when complete, so nothing ever serves a half-written clip, and
``movflags=+faststart`` puts the index (moov) before the media data so a browser can start
playing before the whole file has arrived.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from vision.events import iso_ms

TIME_BASE = Fraction(1, 1000)


@dataclass(frozen=True, slots=True)
class ClipStats:
    path: Path
    frames: int
    first_ts: datetime
    last_ts: datetime
    duration_s: float
    width: int
    height: int
    bytes: int


class ClipWriter:
    """One MP4 file, opened on the first frame (whose size and time fix the clip's)."""

    def __init__(self, path: Path, *, fps: float, preset: str = "ultrafast", crf: int = 26,
                 metadata: dict[str, Any] | None = None) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0; got {fps}")
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.fps = fps
        self.preset = preset
        self.crf = crf
        self.metadata = dict(metadata or {})
        self._container: Any = None
        self._stream: Any = None
        self.frames = 0
        self.skipped = 0
        self.first_ts: datetime | None = None
        self.last_ts: datetime | None = None
        self._last_pts = -1
        self.size: tuple[int, int] | None = None

    @property
    def started(self) -> bool:
        return self._container is not None

    def _open(self, width: int, height: int, ts: datetime) -> None:
        self.part.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.part), mode="w", format="mp4", options={"movflags": "+faststart"})
        try:
            # the comment carries the first frame's wall-clock time to the millisecond: mp4's own
            # creation_time keeps whole seconds only
            container.metadata["comment"] = json.dumps({**self.metadata, "first_frame_at": iso_ms(ts)})
            container.metadata["creation_time"] = ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if "title" in self.metadata:
                container.metadata["title"] = str(self.metadata["title"])
            rate = Fraction(self.fps).limit_denominator(1001)
            stream = container.add_stream("libx264", rate=rate,
                                          options={"preset": self.preset, "crf": str(self.crf)})
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            stream.time_base = TIME_BASE
            stream.codec_context.time_base = TIME_BASE
            # a keyframe every ~2 s keeps seeking in the review page snappy at a low frame rate
            stream.codec_context.gop_size = max(1, round(self.fps * 2))
        except BaseException:
            container.close()
            raise
        self._container, self._stream = container, stream
        self.size = (width, height)
        self.first_ts = ts

    def write(self, image: np.ndarray, ts: datetime) -> bool:
        """Encode one BGR frame; False where its time does not advance the clip (it is skipped)."""
        if self._container is None:
            h, w = image.shape[:2]
            self._open(w, h, ts)
        assert self.first_ts is not None and self.size is not None
        pts = round((ts - self.first_ts).total_seconds() * 1000)
        if pts <= self._last_pts:
            self.skipped += 1
            return False
        w, h = self.size
        if image.shape[1] != w or image.shape[0] != h:
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        # OpenCV's I420 conversion is ~4x faster than swscale's and within one code value of it
        yuv: np.ndarray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2YUV_I420).astype(
            np.uint8, copy=False)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = pts
        frame.time_base = TIME_BASE
        frame.duration = round(1000 / self.fps)  # the last frame's duration ends the clip
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._last_pts = pts
        self.last_ts = ts
        self.frames += 1
        return True

    def close(self) -> ClipStats | None:
        """Flush and rename into place; None where no frame was ever written (no file)."""
        if self._container is None:
            return None
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None
        os.replace(self.part, self.path)
        assert self.first_ts is not None and self.last_ts is not None and self.size is not None
        duration = (self.last_ts - self.first_ts).total_seconds() + round(1000 / self.fps) / 1000
        return ClipStats(self.path, self.frames, self.first_ts, self.last_ts, duration, self.size[0],
                         self.size[1], self.path.stat().st_size)

    def abort(self) -> None:
        """Drop a clip that failed half-way; never raises, the caller is already handling an error."""
        if self._container is not None:
            try:
                self._container.close()
            except (OSError, av.FFmpegError, ValueError):
                pass
            self._container = None
        try:
            self.part.unlink(missing_ok=True)
        except OSError:
            pass


def top_level_boxes(path: Path) -> list[tuple[str, int, int]]:
    """(type, offset, size) of an MP4's top-level boxes: 'moov' before 'mdat' means fast start."""
    boxes: list[tuple[str, int, int]] = []
    total = path.stat().st_size
    with path.open("rb") as f:
        offset = 0
        while offset + 8 <= total:
            f.seek(offset)
            size, kind = struct.unpack(">I4s", f.read(8))
            if size == 1:
                (size,) = struct.unpack(">Q", f.read(8))
            elif size == 0:
                size = total - offset
            if size < 8:
                raise ValueError(f"{path}: bad MP4 box size {size} at offset {offset}")
            boxes.append((kind.decode("latin-1"), offset, size))
            offset += size
    return boxes


def is_fast_start(path: Path) -> bool:
    kinds = [kind for kind, _, _ in top_level_boxes(path)]
    return "moov" in kinds and "mdat" in kinds and kinds.index("moov") < kinds.index("mdat")
