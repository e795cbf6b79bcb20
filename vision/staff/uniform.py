"""The ``uniform`` method's model: torso colour histograms and the enrolled profile."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.errors import ModelLoadError
from vision.staff.common import DEFAULT_UNIFORM_THRESHOLD, PROFILE_KIND, _as_bgr

H_BINS, S_BINS, V_BINS = 16, 6, 3
MAX_PROFILE_SAMPLES = 64


def torso_region(crop: np.ndarray) -> np.ndarray | None:
    """The upper-middle part of a person crop, where a uniform shows.

    A standing person's box is about three times as tall as wide and the torso sits in its upper
    middle; a teller seated behind a desk shows only head and chest, so the torso moves down.
    Arms and background at the sides are cut off in both cases.
    """
    h, w = crop.shape[:2]
    if h < 8 or w < 4:
        return None
    y0, y1 = (0.35, 0.80) if h / w < 1.8 else (0.20, 0.50)
    region = crop[int(h * y0) : max(int(h * y1), int(h * y0) + 1), int(w * 0.25) : max(int(w * 0.75), 1)]
    return region if region.size else None


def _smooth(hist: np.ndarray) -> np.ndarray:
    """Spread each bin a little into its neighbours (hue wraps around).

    A plain uniform fills only a bin or two, and a slight change of light then moves it into the
    next bin, where Bhattacharyya sees no overlap at all; smoothing makes near colours near.
    """
    out = 0.25 * np.roll(hist, 1, axis=0) + 0.5 * hist + 0.25 * np.roll(hist, -1, axis=0)
    for axis in (1, 2):
        pad = [(0, 0)] * 3
        pad[axis] = (1, 1)
        p = np.pad(out, pad, mode="edge")
        n = p.shape[axis]
        out = (
            0.25 * np.take(p, range(0, n - 2), axis=axis)
            + 0.5 * np.take(p, range(1, n - 1), axis=axis)
            + 0.25 * np.take(p, range(2, n), axis=axis)
        )
    return out


def torso_histogram(crop: np.ndarray) -> np.ndarray | None:
    """Smoothed HSV histogram of the torso, normalised to sum 1; None for a crop too small to judge.

    Coarse value bins keep dark, grey and white uniforms apart while tolerating lighting changes.
    """
    region = torso_region(_as_bgr(crop, "crop"))
    if region is None:
        return None
    hsv = cv2.cvtColor(region, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [H_BINS, S_BINS, V_BINS], [0, 180, 0, 256, 0, 256])
    hist = _smooth(hist)
    total = float(hist.sum())
    if total <= 0:
        return None
    return (hist / total).astype(np.float32)


def _hist_similarity(a: np.ndarray, b: np.ndarray) -> float:
    return 1.0 - float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


@dataclass(frozen=True)
class UniformProfile:
    """Torso histograms of enrolled staff crops: their mean plus the samples themselves.

    Keeping samples lets one profile cover two uniform variants (e.g. shirt and jacket), which a
    mean alone would blur into a colour nobody wears.
    """

    mean: np.ndarray
    samples: np.ndarray  # (K, H, S, V)
    suggested_threshold: float

    def score(self, crop: np.ndarray) -> float | None:
        hist = torso_histogram(crop)
        if hist is None:
            return None
        best = _hist_similarity(hist, self.mean)
        for s in self.samples:
            best = max(best, _hist_similarity(hist, s))
        return best

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": PROFILE_KIND,
            "version": 1,
            "bins": [H_BINS, S_BINS, V_BINS],
            "suggested_threshold": round(self.suggested_threshold, 4),
            "mean": [round(float(v), 6) for v in self.mean.ravel()],
            "samples": [[round(float(v), 6) for v in s.ravel()] for s in self.samples],
        }

    @classmethod
    def load(cls, path: Path) -> UniformProfile:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"cannot read uniform profile {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("kind") != PROFILE_KIND:
            raise ModelLoadError(f"{path} is not a uniform profile (make one with 'tellerwatch enroll')")
        shape = (H_BINS, S_BINS, V_BINS)
        if data.get("bins") != list(shape):
            raise ModelLoadError(
                f"uniform profile {path} has bins {data.get('bins')}, expected {list(shape)}"
            )
        try:
            mean = np.asarray(data["mean"], dtype=np.float32).reshape(shape)
            samples = np.asarray(data.get("samples", []), dtype=np.float32).reshape((-1, *shape))
            suggested = float(data.get("suggested_threshold", DEFAULT_UNIFORM_THRESHOLD))
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelLoadError(f"uniform profile {path} is damaged: {exc}") from None
        return cls(mean=mean, samples=samples, suggested_threshold=suggested)


def enroll_uniform(images: Sequence[np.ndarray], out: Path) -> Path:
    """Write a uniform profile (JSON) from crops of staff in uniform.

    The suggested threshold sits below the worst enrolled crop's own score, so that every crop the
    profile was made from would count as staff.
    """
    hists = [h for h in (torso_histogram(img) for img in images) if h is not None]
    if not hists:
        raise ValueError("no usable staff crops: each must be at least 4x8 pixels")
    stack = np.stack(hists)
    mean = stack.mean(axis=0).astype(np.float32)
    mean /= float(mean.sum())
    step = max(1, math.ceil(len(stack) / MAX_PROFILE_SAMPLES))
    samples = stack[::step][:MAX_PROFILE_SAMPLES]
    # leave-one-out: how well does each crop match the others' profile?
    worst = 1.0
    if len(stack) > 1:
        for i in range(len(stack)):
            others = np.delete(stack, i, axis=0)
            rest = others.mean(axis=0).astype(np.float32)
            best = max([_hist_similarity(stack[i], rest)] + [_hist_similarity(stack[i], o) for o in others])
            worst = min(worst, best)
    suggested = float(np.clip(worst - 0.1, 0.3, 0.6)) if len(stack) > 1 else DEFAULT_UNIFORM_THRESHOLD
    profile = UniformProfile(mean=mean, samples=samples, suggested_threshold=suggested)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(profile.to_json()), encoding="utf-8")
    return out
