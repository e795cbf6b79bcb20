"""What every source shares: the iterator interface, the analysis-rate sampler, limits and helpers."""

from __future__ import annotations

import logging
import math
from datetime import datetime, tzinfo
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

import av

from vision.config import CameraConfig
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
        # the stream clock minus the box clock, seconds (live streams with RTCP sender reports)
        self.clock_drift_s: float | None = None
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
