"""Video files (anything PyAV opens), read on the caller's thread; nothing is dropped."""

from __future__ import annotations

import collections
import dataclasses
import heapq
import logging
import threading
import time
from collections.abc import Generator, Iterator
from datetime import datetime, timedelta, tzinfo
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from vision.config import CameraConfig
from vision.errors import SourceError
from vision.frames import Frame
from vision.sources.base import (
    _NONREF_SKIP_CODECS,
    MAX_LEAD_IN,
    FrameSource,
    _ensure_tz,
    _one_line,
    _Sampler,
)

log = logging.getLogger(__name__)


@dataclasses.dataclass
class _PassClock:
    """Numbers and times a file pass's frames: by presentation time where the packets carry it
    (skipped or undecodable frames keep their numbers), else by count; time never runs backwards."""

    tb: Fraction
    step: float  # seconds per frame where timestamps are missing
    t_offset: float
    origin: int | None = None  # pts of the first presented frame: t = 0 there
    pending: list[int] = dataclasses.field(default_factory=list)  # packet pts not yet presented
    pts_ok: bool = True
    next_index: int = 0
    last_t: float = -1.0

    def packet(self, packet: av.Packet) -> None:
        if packet.pts is not None and not packet.is_discard:
            heapq.heappush(self.pending, packet.pts)
        elif packet.size and packet.pts is None:
            self.pts_ok = False  # numbering by pts is impossible; count frames instead

    def may_need(self, packet: av.Packet, nominal: float, sampler: Any) -> bool:
        """Whether the sampler may want the frame this packet holds (False: it may be skipped)."""
        if packet.pts is None or self.origin is None:
            return True
        spacing = float(packet.duration * self.tb) if packet.duration else nominal
        return bool(sampler.may_need(float((packet.pts - self.origin) * self.tb) + self.t_offset, 1.5 * spacing))

    def frame(self, pts: int | None, nominal: float | None) -> tuple[int, float]:
        """(index, t) of the next decoded frame."""
        if pts is not None and self.pts_ok:
            if self.origin is None:
                self.origin = pts
                while self.pending and self.pending[0] < pts:  # pre-roll that never shows
                    heapq.heappop(self.pending)
            while self.pending and self.pending[0] < pts:  # skipped or undecodable frames
                heapq.heappop(self.pending)
                self.next_index += 1
            if self.pending and self.pending[0] == pts:
                heapq.heappop(self.pending)
            t = float((pts - self.origin) * self.tb) + self.t_offset
        else:
            t = self.next_index * self.step + self.t_offset
        index = self.next_index
        self.next_index += 1
        if t <= self.last_t:  # broken timestamps: keep time moving forward
            t = self.last_t + (nominal or 1e-3)
        self.last_t = t
        return index, t


class _FileSource(FrameSource):
    """A video file decoded with PyAV on the caller's thread."""

    # Measured on bottle-detection.mp4 (640x360 H.264, 1189 frames) on 2 shared cores, best of
    # 15: at analysis_fps 5, slice threading plus non-reference skipping took 295 ms of CPU
    # against 425 ms for "AUTO" (frame threading); decoding every frame, "AUTO" finished sooner
    # (640 vs 830 ms wall) but burned 20 % more CPU. A branch box runs several cameras and a
    # detector on few cores, so CPU is the scarce resource: keep slices.
    thread_type = "SLICE"

    def __init__(self, camera: CameraConfig, tz: tzinfo, stop: threading.Event | None, path: Path,
                 *, every_frame: bool = False) -> None:
        super().__init__(camera, is_live=False)
        self._path = path
        self._stop = stop
        self._every_frame = every_frame
        self._loop = camera.loop
        self._replay_start = _ensure_tz(camera.replay_start or datetime.now(tz), tz)
        self._sampler = _Sampler(camera.analysis_fps)
        self._closed = False
        self.bad_packets = 0

        container = self._open()
        try:
            stream = container.streams.video[0]
            tb = stream.time_base
            duration = None
            if stream.duration and tb:
                duration = float(stream.duration * tb)
            elif container.duration:
                duration = container.duration / av.time_base
            frames = stream.frames or None
            rate = stream.average_rate or stream.guessed_rate
            if frames and duration:
                self.fps = frames / duration
            elif rate:
                self.fps = float(rate)
            self.frame_count = frames
            self.duration_s = duration
            w, h = stream.codec_context.width, stream.codec_context.height
            self.size = (w, h) if w and h else None
        except Exception:
            container.close()
            raise
        self._frames = self._generate(container)
        # Decode the first frame now: "cannot be decoded at all" must fail at open, not later.
        try:
            self._first: Frame | None = next(self._frames, None)
        except av.FFmpegError as exc:
            self.close()
            raise SourceError(f"{path}: cannot decode ({_one_line(exc)})") from None
        if self._first is None:
            self.close()
            raise SourceError(f"{path}: no decodable video frames")
        self.size = (self._first.width, self._first.height)

    def _open(self) -> av.container.InputContainer:
        try:
            container = av.open(str(self._path), mode="r")
        except av.FFmpegError as exc:
            raise SourceError(f"{self._path}: not a readable video ({_one_line(exc)})") from None
        except OSError as exc:
            raise SourceError(f"{self._path}: cannot open ({exc.strerror or _one_line(exc)})") from None
        if not container.streams.video:
            container.close()
            raise SourceError(f"{self._path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = self.thread_type
        return container

    def __next__(self) -> Frame:
        if self._closed or (self._stop is not None and self._stop.is_set()):
            self.close()
            raise StopIteration
        if self._first is not None:
            frame, self._first = self._first, None
        else:
            nxt = next(self._frames, None)
            if nxt is None:
                self.close()
                raise StopIteration
            frame = nxt
        self.yielded_frames += 1
        return frame

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._frames.close()  # runs the generator's finally: closes the container

    def _generate(self, container: av.container.InputContainer) -> Generator[Frame, None, None]:
        """All passes over the file (one, or endless with ``loop``), sampled."""
        t_offset = 0.0
        index_offset = 0
        passes = 0
        try:
            while True:
                passes += 1
                kept_before = self.decoded_frames
                last = yield from self._one_pass(container, t_offset, index_offset)
                container.close()
                if not self._loop or self.decoded_frames == kept_before:
                    return
                if self._stop is not None and self._stop.is_set():
                    return
                last_t, n_index = last
                step = 1.0 / self.fps if self.fps else 1.0 / self._sampler.fps
                t_offset = last_t + step
                index_offset += n_index
                log.info("%s: looping (pass %d starts at t=%.3f s)", self._path, passes + 1, t_offset)
                container = self._open()
        finally:
            container.close()

    def _one_pass(
        self, container: av.container.InputContainer, t_offset: float, index_offset: int
    ) -> Generator[Frame, None, tuple[float, int]]:
        """One pass over the file; returns (t of its last frame, frames it numbered)."""
        stream = container.streams.video[0]
        cc = stream.codec_context
        nominal = 1.0 / self.fps if self.fps else None
        clock = _PassClock(stream.time_base or Fraction(1, 90000), nominal or 1.0 / self._sampler.fps, t_offset)
        can_skip = cc.name in _NONREF_SKIP_CODECS and nominal is not None and not self._every_frame
        between: collections.deque[Frame] = collections.deque(maxlen=MAX_LEAD_IN)
        skipping = False
        bad = 0
        for packet in self._packets(container, stream):
            clock.packet(packet)
            if can_skip and nominal is not None:
                want = clock.may_need(packet, nominal, self._sampler)
                if want == skipping:  # only touch the context when the answer changes
                    skipping = not want
                    cc.skip_frame = "NONREF" if skipping else "DEFAULT"
            try:
                decoded = packet.decode()
            except av.FFmpegError:
                bad += 1
                continue
            for vf in decoded:
                self.decoded_frames += 1
                index, t = clock.frame(vf.pts, nominal)
                if not self._sampler.take(t):
                    if self._every_frame:
                        between.append(self._frame(vf, index_offset + index, t))
                    continue
                frame = self._frame(vf, index_offset + index, t)
                if between:
                    frame = dataclasses.replace(frame, lead_in=tuple(between))
                    between.clear()
                yield frame
        if bad:
            self.bad_packets += bad
            log.warning("%s: %d undecodable packet(s) skipped", self._path, bad)
        return clock.last_t, clock.next_index

    def _packets(self, container: av.container.InputContainer, stream: Any) -> Iterator[av.Packet]:
        """The stream's packets until the end, a demux error (what was decoded is kept) or stop."""
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.FFmpegError as exc:
                # A demuxer error mid-file (truncation, garbage): keep what was decoded.
                log.warning("%s: stopped reading at a demux error: %s", self._path, _one_line(exc))
                return
            if self._stop is not None and self._stop.is_set():
                return
            yield packet

    def _frame(self, vf: av.VideoFrame, index: int, t: float) -> Frame:
        return Frame(
            camera_id=self.camera_id,
            index=index,
            t=t,
            ts=self._replay_start + timedelta(seconds=t),
            image=np.ascontiguousarray(vf.to_ndarray(format="bgr24")),
            captured_at=time.perf_counter(),
        )
