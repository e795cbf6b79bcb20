"""Cut-outs of the people in the scenes, made from public-domain photographs in installed packages.

The committed PNGs in ``sample_videos/assets/`` are what the scene generator reads, so that the
scenes do not depend on a JPEG decoder or a GrabCut implementation staying bit-identical across
library versions. This module remakes them (``python -m sample_videos.assets``); it needs
matplotlib (``grace_hopper.jpg``, US Navy photograph, public domain) and scikit-image
(``data.astronaut()``, NASA photograph of Eileen Collins, public domain).

Each cut-out is written as two PNGs: ``NAME.png`` (BGRA, alpha = the person) and
``NAME_parts.png`` (labels: 0 background, 1 skin / hair / face, 2 clothes that may be
recoloured, 3 clothes kept as they are: white shirt, badges, turtleneck; 4 the space suit's
neck ring, which the generator paints as a collar).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

ASSET_DIR = Path(__file__).resolve().parent / "assets"

BG, SKIN, CLOTHES, KEEP, COLLAR = 0, 1, 2, 3, 4

# Hand-drawn outlines (source-image pixels) that start GrabCut; GrabCut refines the edges.
HOPPER_OUTLINE = [
    (178, 38), (250, 18), (330, 30), (372, 95), (376, 170), (362, 235), (345, 300), (400, 328),
    (470, 355), (500, 410), (511, 599), (12, 599), (20, 440), (45, 375), (110, 350), (170, 328),
    (195, 318), (176, 292), (163, 235), (152, 170), (160, 90),
]
COLLINS_OUTLINE = [
    (225, 10), (262, 14), (290, 40), (303, 80), (300, 110), (284, 128), (280, 148), (300, 160),
    (306, 200), (302, 262), (342, 272), (362, 338), (24, 338), (40, 300), (62, 276), (104, 262),
    (118, 200), (126, 165), (170, 148), (172, 128), (154, 108), (153, 70), (170, 30), (195, 15),
]


def _grabcut(img: np.ndarray, outline: list[tuple[int, int]], iters: int = 6) -> np.ndarray:
    h, w = img.shape[:2]
    poly = np.zeros((h, w), np.uint8)
    cv2.fillPoly(poly, [np.asarray(outline, np.int32)], 255)
    # the outline is a hard limit (flags and props sit right behind both sitters); GrabCut only
    # trims inside it
    inner = cv2.erode(poly, np.ones((31, 31), np.uint8))
    mask = np.full((h, w), cv2.GC_BGD, np.uint8)
    mask[poly > 0] = cv2.GC_PR_FGD
    mask[inner > 0] = cv2.GC_FGD
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(12345)
    cv2.grabCut(img, mask, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    fg = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    # keep the largest blob, fill holes, smooth the edge
    n, lab, stats, _ = cv2.connectedComponentsWithStats(fg)
    if n > 1:
        big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        fg = np.where(lab == big, 255, 0).astype(np.uint8)
    contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(fg)
    cv2.drawContours(filled, contours, -1, 255, thickness=cv2.FILLED)
    filled = cv2.morphologyEx(filled, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    return cv2.GaussianBlur(filled, (5, 5), 0)


def _hopper_parts(img: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    parts = np.where(alpha > 127, SKIN, BG).astype(np.uint8)
    body = (alpha > 127) & (np.arange(img.shape[0])[:, None] >= 318)
    dark = hsv[..., 2] < 95
    parts[body & dark] = CLOTHES
    parts[body & ~dark] = KEEP  # white shirt, name tag, ribbons, button
    return parts


def _hopper_alpha_fix(img: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Sky left inside the outline above the right shoulder: light blue is never the sitter."""
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    sky = (hsv[..., 0] >= 95) & (hsv[..., 0] <= 115) & (hsv[..., 2] >= 150) & (hsv[..., 1] >= 60)
    sky[:240] = False
    sky = cv2.dilate(sky.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    out = alpha.copy()
    out[sky] = 0
    return cv2.GaussianBlur(out, (3, 3), 0)


def _collins_parts(img: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    parts = np.where(alpha > 127, SKIN, BG).astype(np.uint8)
    rows = np.arange(img.shape[0])[:, None]
    orange = (hsv[..., 0] <= 22) & (hsv[..., 1] >= 110) & (hsv[..., 2] >= 60)
    below_chin = rows >= 178
    dark = ((hsv[..., 2] < 60) & (alpha > 127) & below_chin & (rows < 290)).astype(np.uint8)
    # the black turtleneck inside the ring is the one big dark blob; the ring's thin shadows are not
    dark = cv2.morphologyEx(dark, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15)))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(dark)
    neck = np.zeros(dark.shape, bool)
    if n > 1:
        neck = lab == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        neck = cv2.morphologyEx(neck.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8)) > 0
    parts[(alpha > 127) & below_chin] = COLLAR  # the metal neck ring and its shadows
    parts[(alpha > 127) & neck] = KEEP
    parts[(alpha > 127) & below_chin & orange] = CLOTHES
    return parts


def _crop(img: np.ndarray, alpha: np.ndarray, parts: np.ndarray, bottom: int):
    ys, xs = np.nonzero(alpha[:bottom] > 8)
    y0, x0, x1 = int(ys.min()), int(xs.min()), int(xs.max()) + 1
    return img[y0:bottom, x0:x1], alpha[y0:bottom, x0:x1], parts[y0:bottom, x0:x1]


def load_sources() -> dict[str, np.ndarray]:
    try:
        from matplotlib import cbook
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("remaking the cut-outs needs matplotlib: pip install matplotlib") from exc
    try:
        from skimage import data as skdata
    except ImportError as exc:  # pragma: no cover
        raise ImportError("remaking the cut-outs needs scikit-image: pip install scikit-image") from exc
    hopper = cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), cv2.IMREAD_COLOR)
    collins = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)
    return {"hopper": hopper, "collins": collins}


def build(out: Path = ASSET_DIR) -> list[Path]:
    src = load_sources()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, outline, parts_fn, bottom in (
        ("hopper", HOPPER_OUTLINE, _hopper_parts, 600),
        ("collins", COLLINS_OUTLINE, _collins_parts, 338),
    ):
        img = src[name]
        alpha = _grabcut(img, outline)
        if name == "hopper":
            alpha = _hopper_alpha_fix(img, alpha)
        parts = parts_fn(img, alpha)
        img_c, alpha_c, parts_c = _crop(img, alpha, parts, bottom)
        bgra = np.dstack([img_c, alpha_c])
        for suffix, arr in (("", bgra), ("_parts", parts_c)):
            p = out / f"{name}{suffix}.png"
            cv2.imwrite(str(p), arr, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            written.append(p)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ASSET_DIR)
    args = ap.parse_args()
    for p in build(args.out):
        print(p)


if __name__ == "__main__":
    main()
