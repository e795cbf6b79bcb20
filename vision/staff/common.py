"""What the staff modules share: verdicts, default thresholds, crops and file helpers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

Verdict = bool | None

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

# Defaults chosen so that an unsure match still counts as staff (see the module docstring).
DEFAULT_UNIFORM_THRESHOLD = 0.5  # 1 - Bhattacharyya distance
# cosine similarity with person-reid-0288: the same person across poses scores 0.89-0.98, different
# people in similar dark clothes up to ~0.88, different clothes under 0.5
DEFAULT_REID_THRESHOLD = 0.8

PROFILE_KIND = "tellerwatch-uniform-profile"
GALLERY_KIND = "tellerwatch-reid-gallery"

REID_HEIGHT, REID_WIDTH = 256, 128
EXPECTED_REID_LAYOUT = "[1, 256, 128, 3] (NHWC) or [1, 3, 256, 128] (NCHW), BGR 0-255, output [1, D]"


def _box_crop(image: np.ndarray, box: np.ndarray, min_w: int = 8, min_h: int = 16) -> np.ndarray | None:
    """The part of ``image`` under ``box``, or None when too little of the person is visible."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (int(round(float(v))) for v in box[:4])
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(w, x1), min(h, y1)
    if x1 - x0 < min_w or y1 - y0 < min_h:
        return None
    return image[y0:y1, x0:x1]


def _as_bgr(image: np.ndarray, what: str) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"{what} must be an (H, W, 3) BGR image, got shape {image.shape}")
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def _read_images(images_dir: Path) -> list[np.ndarray]:
    if not images_dir.is_dir():
        raise ValueError(f"enrol folder not found: {images_dir}")
    paths = sorted(p for p in images_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"no staff crops (.jpg, .jpeg, .png) in {images_dir}")
    images = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot read image {p}")
        images.append(img)
    return images


def _file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
