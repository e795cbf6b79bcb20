"""Reading a clip's frames for benchmarks and tests (the shared footage, the sample scenes)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def read_frames(path: Path, limit: int | None = None, step: int = 1) -> list[np.ndarray]:
    """Every ``step``-th frame of the clip at ``path`` (BGR, from the first), at most ``limit``."""
    cap = cv2.VideoCapture(str(path))
    out: list[np.ndarray] = []
    i = 0
    try:
        while limit is None or len(out) < limit:
            ok, image = cap.read()
            if not ok:
                break
            if i % step == 0:
                out.append(image)
            i += 1
    finally:
        cap.release()
    return out
