"""Camera sources: video files, image folders, network streams and webcams as one iterator.

Every source is an iterator of :class:`~vision.frames.Frame` (and, for live sources,
:class:`~vision.frames.SourceGap`) that already applies the camera's ``analysis_fps``, so the
pipeline never pays for a frame it would throw away:

* **Files** (anything PyAV opens: mp4, avi, mkv, mov, gif, ...) are read synchronously on the
  caller's thread. Nothing is dropped: every analysis slot gets a frame, however slow the
  pipeline. Only kept frames are converted to BGR; for codecs whose decoders can skip
  non-reference frames (H.264, HEVC, MPEG-1/2/4) the frames no slot needs are not even decoded.
  ``t`` is media time (``pts * time_base``) from the first frame; ``ts = replay_start + t``.
  Without ``replay_start`` the replay starts at the time the source was opened, in the site's
  time zone, so that a replayed file still lands on a plausible wall clock (its mtime would
  put a clip copied last year outside business hours).
* **Image folders** (sorted .jpg/.jpeg/.png/.bmp) play at ``analysis_fps``: image *i* stands at
  ``t = i / analysis_fps``, so every image is one analysis slot.
* **Live sources** (rtsp://, http(s)://, ... through PyAV; webcam indices and /dev/video*
  through OpenCV) are read by a daemon thread into a small drop-oldest queue, so a slow
  pipeline always gets the newest frame and the drops are counted. A stall or an error closes
  and reopens the stream with exponential backoff; each outage is reported once, as a
  ``SourceGap``, when frames flow again. ``t`` is wall-clock seconds since open and ``ts`` the
  wall-clock time of decoding.

With ``every_frame=True`` (evidence clips want the source's full frame rate) files and live
sources also convert the frames sampling passes over and attach them, oldest first, to the next
analysed frame as ``Frame.lead_in`` (at most ``MAX_LEAD_IN``); the iterator still yields analysed
frames only, and a file's non-reference frames are then decoded too. Frames after a file's last
analysed frame (less than one analysis interval) have nothing to ride on and are not delivered.

Sampling rule, for all kinds: a frame is taken when its ``t`` reaches the next analysis slot
(``t >= next_slot``); the next slot is then the first slot boundary after ``t``, so after a
gap in the timestamps the sampler does not burst to catch up.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import logging
import math
import threading
import time
from collections.abc import Generator, Iterator
from datetime import datetime, timedelta, tzinfo
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import av
import cv2
import numpy as np

from vision.config import CameraConfig
from vision.dropqueue import DropOldest
from vision.errors import SourceError
from vision.frames import Frame, SourceGap

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})

# Decoders that honour AVDISCARD_NONREF correctly: skipping a non-reference frame cannot change
# any other frame, so the frames that are kept stay bit-identical (checked in the tests).
_NONREF_SKIP_CODECS = frozenset({"h264", "hevc", "mpeg1video", "mpeg2video", "mpeg4"})

# Floating-point slack for slot boundaries: a frame stamped exactly on a boundary belongs to it.
_SLOT_EPS = 1e-6

DEFAULT_STALL_TIMEOUT_S = 5.0
# The backoff ceiling bounds how long a camera that comes back waits for the next attempt: with
# 3 s, the first frame follows the camera's return within ~3 s plus the open (under 1 s on a LAN),
# which is the "back within 5 s" promise; a retry every 3 s costs a dead camera nothing.
DEFAULT_BACKOFF_S = (0.5, 3.0)
# Before a session's first picture the decoder waits for a key frame; "smart codec" cameras
# (H.264+/H.265+) send one every 10 s or more, so the stall rule waits this long for it.
FIRST_FRAME_TIMEOUT_S = 20.0
DEFAULT_QUEUE_SIZE = 2
# Frames attached to one analysed frame at most (``every_frame``): 60 covers a 60 fps camera
# analysed at 1 fps; beyond it the oldest are dropped, so a paused consumer cannot grow memory.
MAX_LEAD_IN = 60

StreamItem = Frame | SourceGap


# --------------------------------------------------------------------------- public interface


class FrameSource:
    """Iterator of ``Frame | SourceGap`` with the facts a pipeline and a progress bar need.

    Subclasses fill in the attributes at open time where they can (``size`` and ``fps`` of a
    live stream are only known once it delivers). Counters: ``decoded_frames`` counts frames the
    decoder produced (sampled or not), ``yielded_frames`` those handed to the pipeline, and
    ``dropped_frames`` the sampled frames the live queue discarded because the pipeline was slower
    than the camera; ``gaps`` counts outages reported, ``reconnects`` the returns after one.
    """

    def __init__(self, camera: CameraConfig, *, is_live: bool) -> None:
        self.camera_id = camera.id
        self.is_live = is_live
        self.fps: float | None = None
        self.frame_count: int | None = None
        self.duration_s: float | None = None
        self.size: tuple[int, int] | None = None
        self.gaps = 0
        self.reconnects = 0
        self.decoded_frames = 0
        self.dropped_frames = 0
        self.yielded_frames = 0

    def __iter__(self) -> FrameSource:
        return self

    def __next__(self) -> StreamItem:
        raise NotImplementedError

    def close(self) -> None:
        """Release the decoder and any reader thread; idempotent."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_source(
    camera: CameraConfig,
    tz: tzinfo,
    *,
    stop: threading.Event | None = None,
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
    backoff_s: tuple[float, float] = DEFAULT_BACKOFF_S,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    every_frame: bool = False,
) -> FrameSource:
    """Open ``camera.source``; a file or folder that cannot be read raises ``SourceError`` now.

    Failing early matters because the CLI reports a bad path as one line and exit code 2,
    while a live camera that is down at start-up is an outage, not an error: its source keeps
    retrying until ``stop`` is set or the source is closed. ``stop`` also ends file sources
    between two frames. ``every_frame`` attaches the frames sampling skips as ``Frame.lead_in``
    (files and live sources; an image folder has one image per analysis slot anyway).
    """
    if not stall_timeout_s > 0:
        raise ValueError(f"stall_timeout_s must be > 0, got {stall_timeout_s!r}")
    lo, hi = backoff_s
    if not 0 < lo <= hi:
        raise ValueError(f"backoff_s must be (initial, maximum), 0 < initial <= maximum; got {backoff_s!r}")
    if queue_size < 1:
        raise ValueError(f"queue_size must be >= 1, got {queue_size!r}")

    source = camera.source
    if camera.is_live:
        return _LiveSource(
            camera, tz, stop, stall_timeout_s=stall_timeout_s, backoff_s=(lo, hi), queue_size=queue_size,
            every_frame=every_frame,
        )
    path = Path(str(source))
    if path.is_dir():
        return _ImageFolderSource(camera, tz, stop, path)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    return _FileSource(camera, tz, stop, path, every_frame=every_frame)


# --------------------------------------------------------------------------- shared helpers


class _Sampler:
    """Decides which frames reach the pipeline, from their time alone (see module docstring)."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self._last_slot = -1

    def slot(self, t: float) -> int:
        return math.floor(t * self.fps + _SLOT_EPS)

    def take(self, t: float) -> bool:
        k = self.slot(t)
        if k > self._last_slot:
            self._last_slot = k
            return True
        return False

    def may_need(self, t: float, spacing: float) -> bool:
        """Whether a frame at ``t`` could be taken, given frames roughly ``spacing`` apart.

        Used before decoding, when the previous presented frame is not known yet (B-frames):
        a frame can only open a new slot if a boundary lies between it and its predecessor.
        A VFR hole wider than ``spacing`` may make this say no for a frame the exact rule
        would take; the next decoded frame then takes that slot, a frame later.
        """
        return self.slot(t) > max(self._last_slot, self.slot(t - spacing))


def _redact(url: str) -> str:
    """Camera URLs often carry credentials; keep them out of logs and gap reasons."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def _ensure_tz(ts: datetime, tz: tzinfo) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=tz)


def _one_line(exc: BaseException) -> str:
    """FFmpeg errors repeat the errno and the path; the caller already names the source."""
    strerror = getattr(exc, "strerror", None)
    if isinstance(exc, av.FFmpegError | OSError) and strerror:
        return str(strerror)
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- video files


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


# --------------------------------------------------------------------------- image folders


class _ImageFolderSource(FrameSource):
    """Sorted still images played at ``analysis_fps`` (one image per analysis slot)."""

    def __init__(self, camera: CameraConfig, tz: tzinfo, stop: threading.Event | None, path: Path) -> None:
        super().__init__(camera, is_live=False)
        self._path = path
        self._stop = stop
        self._loop = camera.loop
        self._replay_start = _ensure_tz(camera.replay_start or datetime.now(tz), tz)
        self._files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise SourceError(f"{path}: folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.fps = camera.analysis_fps
        self.frame_count = len(self._files)
        self.duration_s = len(self._files) / self.fps
        self._closed = False
        # Find the first readable image now, so that a folder of broken files fails at open.
        first, k = None, 0
        while first is None and k < len(self._files):
            first = self._read(self._files[k])
            k += 0 if first is not None else 1
        if first is None:
            raise SourceError(f"{path}: none of its {len(self._files)} image(s) can be decoded")
        self._pos = k  # position in the endless (looped) sequence
        self._unreadable = k
        self.size = (first.shape[1], first.shape[0])
        self._first: np.ndarray | None = first

    @staticmethod
    def _read(file: Path) -> np.ndarray | None:
        # imdecode from bytes rather than imread: imread cannot open non-ASCII paths on Windows.
        try:
            data = np.fromfile(str(file), dtype=np.uint8)
        except OSError:
            return None
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)  # always 3-channel BGR uint8
        return None if image is None else np.ascontiguousarray(image)

    def __next__(self) -> Frame:
        n = len(self._files)
        while True:
            if self._closed or (self._stop is not None and self._stop.is_set()):
                self._closed = True
                raise StopIteration
            if self._pos >= n and not self._loop:
                self._finish()
                raise StopIteration
            pos = self._pos
            self._pos += 1
            if self._first is not None:
                image: np.ndarray | None = self._first
                self._first = None
            else:
                image = self._read(self._files[pos % n])
            if image is None:
                self._unreadable += 1
                if self._loop and self._unreadable >= n * (pos // n + 1):
                    # Every image of a full pass failed: looping would spin forever.
                    self._finish()
                    raise StopIteration
                continue
            self.decoded_frames += 1
            self.yielded_frames += 1
            t = pos / self.fps if self.fps else 0.0
            return Frame(
                camera_id=self.camera_id,
                index=pos,
                t=t,
                ts=self._replay_start + timedelta(seconds=t),
                image=image,
                captured_at=time.perf_counter(),
            )

    def _finish(self) -> None:
        if not self._closed and self._unreadable:
            log.warning("%s: %d unreadable image(s) skipped", self._path, self._unreadable)
        self._closed = True

    def close(self) -> None:
        self._closed = True


# --------------------------------------------------------------------------- live sources


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
