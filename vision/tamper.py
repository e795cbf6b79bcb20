"""Camera tampering on a small grey image: lens covered, view moved, picture defocused.

Cheap enough for every analysed frame: the frame is shrunk to 160x90 grey (``cv2.resize`` with
``INTER_AREA`` before the colour conversion), then

- ``covered``: the picture is dark (mean grey level under ``DARK_MEAN``) or uniform (standard
  deviation under ``UNIFORM_STD``): a hand, a cap, spray paint or a cloth over the lens;
- ``moved``: the scene no longer matches the reference: the *median* of the local structural
  similarity (SSIM over 7x7 windows) falls under ``MOVED_SSIM``. A median is robust to people
  walking through: they change the part of the picture they cover, the background around them
  still matches. ``cv2.phaseCorrelate`` gives the shift, reported in ``details``;
- ``defocused``: the sharpness (variance of the Laplacian, over the grey-level variance) falls
  under ``DEFOCUS_RATIO`` of the reference's while the content has not shifted (a blurred view of
  the same scene).

Known limit: a sudden drop of the light to under a third (lights switched off) reads as
``moved``; a dimmer, a brighter or a slowly changing light does not.

The reference is the per-pixel median of the first ``REFERENCE_FRAMES`` analysed frames (one
passer-by does not make it), or the image in ``evidence.reference``. Afterwards it follows the
scene slowly (lighting through the day), and only over still background: pixels that differ
little from it, and only while the view is not tampered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vision.errors import ConfigError

SIZE = (160, 90)  # width, height of the analysed grey image
REFERENCE_FRAMES = 5
DARK_MEAN = 18.0
UNIFORM_STD = 6.0
MOVED_SSIM = 0.35
DEFOCUS_RATIO = 0.25
DEFOCUS_SSIM = 0.5  # a blurred picture of the same scene still matches this well
TEXTURE_VAR = 100.0  # grey-level variance of a 7x7 window that counts as texture
MIN_TEXTURED = 0.05  # below this share of textured windows the whole picture counts
ADAPT_SSIM = 0.8  # the reference follows the scene only while it clearly still matches
STILL_SHIFT_PX = 3.0  # a blurred picture whose content moved less than this is the same view
ADAPT_RATE = 0.02  # share of the current frame blended into the reference per frame
STILL_DIFF = 12.0  # grey levels: a pixel this close to the reference is still background

_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


@dataclass(frozen=True, slots=True)
class TamperReading:
    """One frame's verdict: ``kind`` is None when the view is as it should be."""

    kind: str | None
    mean: float
    std: float
    ssim: float
    sharpness_ratio: float
    shift_px: tuple[float, float]

    def details(self) -> dict[str, float | list[float]]:
        return {
            "grey_mean": round(self.mean, 1),
            "grey_std": round(self.std, 1),
            "ssim": round(self.ssim, 3),
            "sharpness_ratio": round(self.sharpness_ratio, 3),
            "shift_px": [round(self.shift_px[0], 1), round(self.shift_px[1], 1)],
        }


def small_grey(image: np.ndarray) -> np.ndarray:
    """The frame as 160x90 float32 grey levels."""
    small = cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA)
    if small.ndim == 3:
        small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return small.astype(np.float32)


def median_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Median of the SSIM map of two grey images (7x7 box windows), over the windows where the
    reference ``a`` has texture: two flat patches (a white wall) match whatever the view."""
    k = (7, 7)
    mu_a, mu_b = cv2.blur(a, k), cv2.blur(b, k)
    var_a = cv2.blur(a * a, k) - mu_a * mu_a
    var_b = cv2.blur(b * b, k) - mu_b * mu_b
    cov = cv2.blur(a * b, k) - mu_a * mu_b
    num = (2 * mu_a * mu_b + _C1) * (2 * cov + _C2)
    den = (mu_a * mu_a + mu_b * mu_b + _C1) * (var_a + var_b + _C2)
    ssim = num / den
    textured = var_a > TEXTURE_VAR
    if int(textured.sum()) >= MIN_TEXTURED * ssim.size:
        ssim = ssim[textured]
    return float(np.median(ssim))


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian over the variance of the grey levels: a blurred picture loses
    its edges, a dimmer one (lights turned down) loses contrast, which this divides out."""
    return float(cv2.Laplacian(grey, cv2.CV_32F).var()) / (float(grey.var()) + 1.0)


def load_reference(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ConfigError(f"evidence.reference image {path} cannot be read as an image")
    return small_grey(image)


class TamperWatch:
    """Per-camera tamper state; ``check`` once per analysed frame."""

    def __init__(self, reference: np.ndarray | None = None) -> None:
        self._learning: list[np.ndarray] = []
        self._fixed = reference is not None
        self.reference: np.ndarray | None = reference
        self._ref_sharpness = sharpness(reference) if reference is not None else 0.0
        self._window: np.ndarray | None = None

    def restart(self) -> None:
        """The stream came back after a gap: keep the reference (a camera moved while it was
        away is exactly what must be caught)."""

    def check(self, image: np.ndarray) -> TamperReading:
        grey = small_grey(image)
        mean, std = float(grey.mean()), float(grey.std())
        covered = mean < DARK_MEAN or std < UNIFORM_STD
        ref = self.reference
        if ref is None:
            if not covered:
                self._learning.append(grey)
                if len(self._learning) >= REFERENCE_FRAMES:
                    self.reference = np.median(np.stack(self._learning), axis=0).astype(np.float32)
                    self._ref_sharpness = sharpness(self.reference)
                    self._learning = []
            return TamperReading("covered" if covered else None, mean, std, 1.0, 1.0, (0.0, 0.0))
        if covered:
            return TamperReading("covered", mean, std, 0.0, 0.0, (0.0, 0.0))
        ssim = median_ssim(ref, grey)
        ratio = sharpness(grey) / self._ref_sharpness if self._ref_sharpness > 0 else 1.0
        kind: str | None = None
        dx = dy = 0.0
        if ssim < MOVED_SSIM or ratio < DEFOCUS_RATIO:
            if self._window is None:
                self._window = cv2.createHanningWindow(SIZE, cv2.CV_32F)
            # phaseCorrelate applies the window to its inputs in place: hand it copies
            (dx, dy), _ = cv2.phaseCorrelate(ref.copy(), grey.copy(), self._window)
            blurred_same_view = ratio < DEFOCUS_RATIO and abs(dx) + abs(dy) < STILL_SHIFT_PX
            kind = "defocused" if blurred_same_view else "moved"
        if kind is None and not self._fixed and ssim >= ADAPT_SSIM:
            still = np.abs(grey - ref) < STILL_DIFF
            ref[still] += ADAPT_RATE * (grey[still] - ref[still])
        return TamperReading(kind, mean, std, ssim, ratio, (float(dx), float(dy)))
