"""Image folders played at the analysis rate, one image per analysis slot."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

import cv2
import numpy as np

from vision.config import CameraConfig
from vision.errors import SourceError
from vision.frames import Frame
from vision.sources.base import (
    IMAGE_SUFFIXES,
    FrameSource,
    _ensure_tz,
)

log = logging.getLogger(__name__)


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
