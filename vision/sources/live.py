"""Live sources (RTSP/HTTP through PyAV, webcams through OpenCV): a reader thread, a drop-oldest
hand-off, reconnects with backoff and one SourceGap per outage."""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import Protocol

import av
import cv2
import numpy as np

from vision.config import CameraConfig
from vision.dropqueue import DropOldest
from vision.errors import SourceError
from vision.frames import Frame, SourceGap
from vision.sources.base import (
    FIRST_FRAME_TIMEOUT_S,
    MAX_LEAD_IN,
    FrameSource,
    StreamItem,
    _one_line,
    _redact,
    _Sampler,
)

log = logging.getLogger(__name__)


class _Stall(Exception):
    """No frame arrived within the stall timeout (raised inside the reader thread only)."""


class _Decoded(Protocol):
    """A decoded frame whose conversion to BGR is deferred until the sampler keeps it."""

    def to_bgr(self) -> np.ndarray: ...


@dataclasses.dataclass
class _LiveState:
    """What a live source's reader thread remembers across connections."""

    delay: float  # the next reconnect backoff
    outage_start: datetime | None = None  # set while the camera is not delivering
    outage_reason: str = ""
    streamed: bool = False  # delivered at least one frame since open
    last_ts: datetime | None = None
    index: int = 0
    between: collections.deque[Frame] = dataclasses.field(default_factory=lambda: collections.deque(maxlen=MAX_LEAD_IN))


class _StreamReader(Protocol):
    fps: float | None

    def frames(self) -> Iterator[_Decoded]: ...

    def close(self) -> None: ...


class _AvDecoded:
    __slots__ = ("_frame",)

    def __init__(self, frame: av.VideoFrame) -> None:
        self._frame = frame

    def to_bgr(self) -> np.ndarray:
        return np.ascontiguousarray(self._frame.to_ndarray(format="bgr24"))

    @property
    def time(self) -> float | None:
        """Presentation time in seconds of the stream's timeline (None where unknown)."""
        return self._frame.time


class _PyAVStream:
    """A network stream through PyAV, with the latency options an IP camera wants."""

    def __init__(self, url: str, stall_timeout_s: float) -> None:
        self._stall = stall_timeout_s
        # No "fflags nobuffer": it drops the packets read while probing, and with them the stream's
        # first key frame, so every (re)connect waited a whole GOP for a picture (no frame at all
        # within the 5 s stall timeout from a camera with an 8 s GOP). Keeping them costs the
        # first frames of a session the probe's delay (under a second), and the sampler and the
        # drop-oldest queue catch up at once.
        options = {"flags": "low_delay"}
        scheme = url.lower().split("://", 1)[0]
        if scheme in ("rtsp", "rtsps"):
            options["rtsp_transport"] = "tcp"  # UDP loses packets behind NAT and on busy LANs
        # PyAV's timeout interrupts blocking open/read calls, whatever the protocol.
        self._container = av.open(url, mode="r", options=options, timeout=(stall_timeout_s, stall_timeout_s))
        if not self._container.streams.video:
            self._container.close()
            raise SourceError("stream has no video")
        self._stream = self._container.streams.video[0]
        # Frame threading would add one frame of latency per thread; slices add none.
        self._stream.thread_type = "SLICE"
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps: float | None = float(rate) if rate else None
        self.sender_epoch_s: float | None = None

    def clock_drift_s(self, decoded: _Decoded) -> float | None:
        """The sender's clock minus the box's for a frame just read (None without a sender report).

        FFmpeg's RTSP demuxer sets ``start_time_realtime`` (µs since the epoch) once the first RTCP
        sender report arrives (about 2 s into a GStreamer stream, so not yet at open): the sender's
        wall clock at the stream's time 0. The figure includes the transport delay (tens of ms)."""
        if self.sender_epoch_s is None:
            realtime = self._container.start_time_realtime
            if not realtime or realtime <= 0:
                return None
            self.sender_epoch_s = realtime / 1e6
        t = getattr(decoded, "time", None)
        return None if t is None else self.sender_epoch_s + t - time.time()

    def frames(self) -> Iterator[_Decoded]:
        last = time.monotonic()
        limit = max(self._stall, FIRST_FRAME_TIMEOUT_S)  # until the first key frame
        for packet in self._container.demux(self._stream):
            try:
                decoded = packet.decode()
            except av.FFmpegError as exc:
                log.debug("undecodable packet: %s", _one_line(exc))
                decoded = []
            now = time.monotonic()
            if decoded:
                last, limit = now, self._stall
            elif now - last > limit:
                raise _Stall  # bytes keep coming but nothing decodes
            for vf in decoded:
                yield _AvDecoded(vf)

    def close(self) -> None:
        self._container.close()


class _CvDecoded:
    __slots__ = ("_cap",)

    def __init__(self, cap: cv2.VideoCapture) -> None:
        self._cap = cap

    def to_bgr(self) -> np.ndarray:
        ok, image = self._cap.retrieve()
        if not ok or image is None:
            raise _Stall
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        return np.ascontiguousarray(image)


class _OpenCVCapture:
    """Webcams (and any URL OpenCV can read): grab() every frame, retrieve() only kept ones."""

    def __init__(self, source: str | int, stall_timeout_s: float) -> None:
        timeout_ms = int(stall_timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
        self._cap = cv2.VideoCapture(source, cv2.CAP_ANY, params)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError("OpenCV cannot open it")
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # camera drivers queue stale frames otherwise
        rate = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps: float | None = float(rate) if rate and rate > 0 else None

    def frames(self) -> Iterator[_Decoded]:
        while self._cap.grab():
            yield _CvDecoded(self._cap)

    def close(self) -> None:
        self._cap.release()


class _DropOldestQueue:
    """The reader thread's hand-off to the camera thread: drops the oldest *frame* when full;
    gaps are never dropped."""

    def __init__(self, max_frames: int) -> None:
        self._items: DropOldest[StreamItem] = DropOldest(max_frames, lambda item: isinstance(item, Frame))
        self._cond = threading.Condition()

    @property
    def dropped(self) -> int:
        return self._items.dropped

    def put(self, item: StreamItem) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout: float) -> StreamItem | None:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            if not self._items:
                return None
            return self._items.popleft()


class _LiveSource(FrameSource):
    """A network stream or webcam, read by a daemon thread that reconnects on its own."""

    _POLL_S = 0.1  # how often a waiting consumer rechecks ``stop``

    def __init__(
        self,
        camera: CameraConfig,
        tz: tzinfo,
        stop: threading.Event | None,
        *,
        stall_timeout_s: float,
        backoff_s: tuple[float, float],
        queue_size: int,
        every_frame: bool = False,
    ) -> None:
        super().__init__(camera, is_live=True)
        self._every_frame = every_frame
        self._source = camera.source
        self._name = _redact(str(camera.source))
        self._tz = tz
        self._stop = stop
        self._closing = threading.Event()
        self._stall = stall_timeout_s
        self._backoff = backoff_s
        self._sampler = _Sampler(camera.analysis_fps)
        self._queue = _DropOldestQueue(queue_size)
        self._t0 = time.monotonic()
        self._opened_at = datetime.now(tz)
        self._thread = threading.Thread(target=self._run, name=f"source-{camera.id}", daemon=True)
        self._thread.start()

    # -- consumer side

    def __next__(self) -> StreamItem:
        while True:
            if self._stopping():
                self.close()
                raise StopIteration
            item = self._queue.get(self._POLL_S)
            if item is not None:
                self.dropped_frames = self._queue.dropped
                if isinstance(item, Frame):
                    self.yielded_frames += 1
                return item
            if not self._thread.is_alive():
                raise StopIteration

    def close(self) -> None:
        self._closing.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            # A blocked read returns within the stall timeout; the thread is a daemon, so a
            # camera that never answers cannot hold up shutdown beyond this join.
            self._thread.join(timeout=min(self._stall, 2.0) + 0.5)
        self.dropped_frames = self._queue.dropped

    def _stopping(self) -> bool:
        return self._closing.is_set() or (self._stop is not None and self._stop.is_set())

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._stopping():
            left = end - time.monotonic()
            if left <= 0:
                return
            self._closing.wait(min(left, self._POLL_S))

    # -- reader thread

    def _open_reader(self) -> _StreamReader:
        source = self._source
        if isinstance(source, int) or source.startswith("/dev/video"):
            return _OpenCVCapture(source, self._stall)
        return _PyAVStream(source, self._stall)

    def _run(self) -> None:
        st = _LiveState(delay=self._backoff[0])
        while not self._stopping():
            reader = self._try_open(st)
            if reader is None:
                self._sleep(st.delay)
                st.delay = min(st.delay * 2, self._backoff[1])
                continue
            if reader.fps:
                self.fps = reader.fps
            reason = self._session(reader, st)
            if self._stopping():
                break
            if st.outage_start is None:
                st.outage_start = st.last_ts or datetime.now(self._tz)
                st.outage_reason = reason
                log.warning("%s: %s; reconnecting", self._name, reason)
            self._sleep(st.delay)
            st.delay = min(st.delay * 2, self._backoff[1])

    def _try_open(self, st: _LiveState) -> _StreamReader | None:
        try:
            return self._open_reader()
        except (av.FFmpegError, OSError, SourceError, cv2.error) as exc:
            if st.outage_start is None:  # a camera down at start-up is an outage from open
                st.outage_start = st.last_ts or self._opened_at
                st.outage_reason = f"cannot open: {_one_line(exc)}"
                log.warning("%s: cannot open (retrying): %s", self._name, _one_line(exc))
            else:  # one warning per outage; a camera down all night would flood the log
                log.debug("%s: cannot open (retry in %.1f s): %s", self._name, st.delay, _one_line(exc))
            return None

    def _session(self, reader: _StreamReader, st: _LiveState) -> str:
        """Reads one connection's frames until it ends; returns why it ended."""
        reason = "stream ended"
        first = True
        try:
            for decoded in reader.frames():
                now_ts = datetime.now(self._tz)
                t = time.monotonic() - self._t0
                if first:
                    self._frames_again(st, now_ts)
                    first = False
                self.decoded_frames += 1
                st.last_ts = now_ts
                self._drift(reader, decoded)
                if self._stopping():
                    break
                self._deliver(decoded, st, now_ts, t)
        except _Stall:
            reason = f"stall: no frame for {self._stall:g} s"
        except av.ExitError:  # PyAV's read timeout fired
            reason = f"stall: no data for {self._stall:g} s"
        except (av.FFmpegError, OSError, SourceError, cv2.error) as exc:
            reason = f"read error: {_one_line(exc)}"
        finally:
            reader.close()
            st.between.clear()  # frames of a lost session do not lead into the next one
        return reason

    def _drift(self, reader: _StreamReader, decoded: _Decoded) -> None:
        """Keeps ``clock_drift_s`` (sender clock minus box clock, smoothed) where the stream says."""
        measure = getattr(reader, "clock_drift_s", None)
        drift = measure(decoded) if measure is not None else None
        if drift is None:
            return
        prev = self.clock_drift_s
        self.clock_drift_s = drift if prev is None else prev + 0.05 * (drift - prev)

    def _frames_again(self, st: _LiveState, now_ts: datetime) -> None:
        """A connection's first frame: the backoff resets and an outage, if any, becomes a gap."""
        st.delay = self._backoff[0]
        if st.outage_start is not None:
            if st.streamed:
                self.reconnects += 1
            log.info("%s: frames again after %.1f s (%s)", self._name,
                     (now_ts - st.outage_start).total_seconds(), st.outage_reason)
            self.gaps += 1
            self._queue.put(SourceGap(self.camera_id, st.outage_start, now_ts, st.outage_reason))
            st.outage_start = None
        st.streamed = True

    def _deliver(self, decoded: _Decoded, st: _LiveState, now_ts: datetime, t: float) -> None:
        idx = st.index
        st.index += 1
        if not self._sampler.take(t):
            if self._every_frame:
                st.between.append(Frame(self.camera_id, idx, t, now_ts, decoded.to_bgr(), time.perf_counter()))
            return
        image = decoded.to_bgr()
        self.size = (image.shape[1], image.shape[0])
        self._queue.put(
            Frame(
                camera_id=self.camera_id,
                index=idx,
                t=t,
                ts=now_ts,
                image=image,
                captured_at=time.perf_counter(),
                lead_in=tuple(st.between),
            )
        )
        st.between.clear()
