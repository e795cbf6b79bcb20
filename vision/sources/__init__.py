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
  put a clip copied last year outside business hours). A hole in the container's timestamps (an
  NVR file's video loss) stays a hole in ``t``: nothing fills it with repeated frames, and a file
  is read as fast as it decodes (no pacing to real time), so a long hole takes no wall time. The
  runner's ``camera_offline`` rule files such holes (media time).
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

import threading
from datetime import tzinfo
from pathlib import Path

from vision.config import CameraConfig
from vision.errors import SourceError
from vision.sources.base import (
    DEFAULT_BACKOFF_S,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_STALL_TIMEOUT_S,
    FIRST_FRAME_TIMEOUT_S,
    IMAGE_SUFFIXES,
    MAX_LEAD_IN,
    FrameSource,
    StreamItem,
)
from vision.sources.file import _FileSource, _PassClock
from vision.sources.folder import _ImageFolderSource
from vision.sources.live import _DropOldestQueue, _LiveSource, _LiveState, _OpenCVCapture, _PyAVStream

__all__ = [
    "DEFAULT_BACKOFF_S", "DEFAULT_QUEUE_SIZE", "DEFAULT_STALL_TIMEOUT_S", "FIRST_FRAME_TIMEOUT_S", "IMAGE_SUFFIXES",
    "MAX_LEAD_IN", "FrameSource", "StreamItem", "open_source",
    "_DropOldestQueue", "_FileSource", "_ImageFolderSource", "_LiveSource", "_LiveState", "_OpenCVCapture",
    "_PassClock", "_PyAVStream",
]


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
