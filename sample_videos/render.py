"""Drawing one frame of the bank counter: the room, the people, the items on the counter.

The camera hangs high above the customer hall and looks down across the counter into the teller
room (营业间): the back wall with the staff door at the right, the tellers' chairs, the teller
desk (the counter top, where cash and seals lie), a glass partition standing on its front edge,
the counter front, and the customer hall at the bottom of the picture. A walk-round passage
with a low gate at the left end of the counter leads from the hall into the teller room.

Everything is integer arithmetic on uint8 / int32 arrays, so a frame is bit-identical on every
run; textures come from generators with fixed seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import cv2
import numpy as np

W, H = 1280, 720
ASSET_DIR = Path(__file__).resolve().parent / "assets"

# ----------------------------------------------------------------------------- room geometry (px)
# The camera is close to the partition and looks down steeply: the teller room is shallow in the
# picture (chairs just in front of the back wall), customers at the windows show head and torso
# and are cut off at the hips by the bottom of the frame.
WALL_FLOOR_Y = 370        # back wall meets the teller-room floor (the aisle behind the chairs)
AISLE_Y = 374             # feet of someone walking behind the chairs
SEAT_FLOOR_Y = 392        # where a teller's chair stands (hidden behind the desk)
DESK_BACK_Y = 382         # back edge of the teller desk: it hides everything below, right of COUNTER_X0
DESK_FRONT_Y = 440        # front edge of the desk, where the glass partition stands
COUNTER_FOOT_Y = 510      # the counter front meets the hall floor
COUNTER_X0 = 180          # left end of the counter; the walk-round passage lies left of it
GLASS_TOP_Y = 20
MULLIONS_X = (180, 547, 913, 1274)
WINDOW_X = (363, 730, 1097)   # centre of teller window 1, 2, 3
DOOR_X0, DOOR_X1 = 1108, 1268  # staff door opening on the back wall (its top is above the frame)
DOOR_Y0 = 0
HALL_LANE_Y = 880         # feet (below the frame) of a customer standing at or walking along the counter
HALL_FORE_Y0, HALL_FORE_Y1 = COUNTER_FOOT_Y - 60, COUNTER_FOOT_Y + 140
WALK_Y = SEAT_FLOOR_Y + 12  # tellers walk between the chairs and the desk, legs hidden by the desk
CHAIR_DEPTH_Y = 386       # people whose feet are above this pass behind the chairs


SEATED_HH = 84.0  # head height of a seated teller (see head_height)


def head_height(feet_y: float) -> float:
    """Apparent head height (px) of a standing person whose feet touch the floor at row ``feet_y``.

    The sizes are tuned for the embedded SSD, which squeezes the whole 1280 x 720 frame into
    300 x 300 and finds people reliably only at some sizes: seated tellers (head and torso above
    the desk) are drawn larger (``SEATED_HH``) than people standing in the teller room, whose
    detection scores dip at some positions when drawn larger. Customers in the hall are the
    closest to the camera and the largest standing figures.
    """
    if feet_y <= WALK_Y:
        return 66.0 + max(feet_y - AISLE_Y, 0.0) * (2.0 / (WALK_Y - AISLE_Y))
    if feet_y <= 700:
        return 68.0 + (feet_y - WALK_Y) * (10.0 / (700 - WALK_Y))
    return 78.0


def foreshortening(feet_y: float) -> float:
    """How much of a body's length below the chest the steep camera shows (1 = all of it).

    Short drawn bodies also keep most of each person photographic, which is what the detector
    recognises; long drawn legs and torsos are found far less often.
    """
    if feet_y <= HALL_FORE_Y0:
        return 0.5
    if feet_y >= HALL_FORE_Y1:
        return 0.9
    return 0.5 + 0.4 * (feet_y - HALL_FORE_Y0) / (HALL_FORE_Y1 - HALL_FORE_Y0)


# ----------------------------------------------------------------------------- people
@dataclass(frozen=True)
class Source:
    name: str
    chin_y: int       # crop row of the chin: the head (hair / cap top to chin) is 0..chin_y
    face_cx: int      # crop column of the face centre


SOURCES = {
    "hopper": Source("hopper", chin_y=310, face_cx=253),
    "collins": Source("collins", chin_y=167, face_cx=175),
}


@dataclass(frozen=True)
class Look:
    """How one person looks: which photograph, what clothes."""

    source: str
    jacket: tuple[int, int, int] | None  # BGR the photographed clothes are recoloured to; None keeps them
    trousers: tuple[int, int, int] = (40, 38, 36)
    shoes: tuple[int, int, int] = (20, 20, 22)
    flip: bool = False
    shirt: tuple[int, int, int] | None = None  # shirt / collar colour (what the neck ring becomes)


@cache
def _asset(name: str) -> tuple[np.ndarray, np.ndarray]:
    bgra = cv2.imread(str(ASSET_DIR / f"{name}.png"), cv2.IMREAD_UNCHANGED)
    parts = cv2.imread(str(ASSET_DIR / f"{name}_parts.png"), cv2.IMREAD_GRAYSCALE)
    if bgra is None or parts is None:
        raise FileNotFoundError(f"missing cut-out {name} in {ASSET_DIR}; remake with python -m sample_videos.assets")
    return bgra, parts


@lru_cache(maxsize=64)
def _dressed(look: Look) -> np.ndarray:
    """The cut-out with its clothes recoloured (BGRA, source resolution)."""
    bgra, parts = _asset(look.source)
    out = bgra.copy()
    bgr = out[..., :3].astype(np.int32)
    # smoothed brightness: the JPEG noise in the near-black uniform would turn into speckle once
    # scaled up to a light colour
    gray = cv2.GaussianBlur(cv2.cvtColor(bgra[..., :3], cv2.COLOR_BGR2GRAY), (5, 5), 0).astype(np.int32)
    if look.jacket is not None:
        m = parts == 2
        mean = max(int(gray[m].mean()), 1)
        tgt = np.asarray(look.jacket, np.int32)
        # keep the folds and seams: scale the target by the pixel's brightness relative to the mean
        bgr[m] = np.clip(tgt[None, :] * gray[m][:, None] // mean, 0, 255)
    collar = parts == 4
    if collar.any():
        # the space suit's neck ring becomes a wide collar of the jacket colour
        tgt = np.asarray(look.jacket or (60, 60, 60), np.int32)
        # flatten the ring's bright and dark bands
        smooth = cv2.GaussianBlur(gray.astype(np.uint8), (0, 0), 4).astype(np.int32)
        bgr[collar] = np.clip(tgt[None, :] * (190 + smooth[collar][:, None] // 3) // 250, 0, 255)
    if look.shirt is not None:
        # a flat shirt front over the neck ring and collar: little of the source's shading is kept
        m = parts == 3
        tgt = np.asarray(look.shirt, np.int32)
        bgr[m] = np.clip(tgt[None, :] * (232 + gray[m][:, None] // 10) // 256, 0, 255)
    out[..., :3] = bgr.astype(np.uint8)
    if look.flip:
        out = out[:, ::-1].copy()
    return out


def _jacket_colour(look: Look) -> tuple[int, int, int]:
    d = _dressed(look)
    rows = d[-12:]
    _, parts = _asset(look.source)
    p = parts[-12:]
    if look.flip:
        p = p[:, ::-1]
    m = (rows[..., 3] > 200) & (p == 2)
    if not m.any():
        m = rows[..., 3] > 200
    c = rows[..., :3][m].astype(np.int64).mean(axis=0)
    return int(c[0]), int(c[1]), int(c[2])


@dataclass(frozen=True)
class Sprite:
    bgra: np.ndarray   # BGRA, straight (not premultiplied) alpha
    ox: int            # column of the body axis (face centre)
    feet: int          # row of the soles
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 of the figure (alpha > 96) in the sprite
    row_counts: np.ndarray           # figure pixels per sprite row (for how much the frame cuts off)


@lru_cache(maxsize=512)
def person_sprite(look: Look, hh: int, fore_q: int, phase_q: int, walking: bool, seated: bool = False) -> Sprite:
    """A standing person ``hh`` px head height; ``fore_q`` is foreshortening x 20, ``phase_q`` the
    walking phase in sixteenths of a stride cycle. A seated person has no legs or hands to draw
    (the desk hides them) and a longer torso, so that the belt never shows above the desk."""
    fore = fore_q / 20.0
    src = SOURCES[look.source]
    photo = _dressed(look)
    scale = hh / src.chin_y
    pw = max(4, int(round(photo.shape[1] * scale)))
    ph = max(4, int(round(photo.shape[0] * scale)))
    small = cv2.resize(photo, (pw, ph), interpolation=cv2.INTER_AREA)
    face_cx = (photo.shape[1] - src.face_cx if look.flip else src.face_cx) * scale

    alpha_rows = small[..., 3] > 160
    bottom = alpha_rows[-3:].any(axis=0)
    xs = np.nonzero(bottom)[0]
    bx0, bx1 = (int(xs.min()), int(xs.max())) if len(xs) else (0, pw - 1)
    chest_w = bx1 - bx0
    # the portrait crops end at the chest; below it the body is drawn: jacket, sleeves, hands,
    # trousers, shoes. Widths are capped in head units, since the crops are wider than a waist.
    cx = face_cx
    half = min(chest_w / 2.0, 1.10 * hh)
    waist = min(0.74 * half, 0.70 * hh)
    hip = min(0.80 * half, 0.76 * hh)
    torso_len = 1.14 * hh * fore
    leg_len = 2.9 * hh * fore
    y_top = ph - 3
    y_hip = y_top + torso_len
    y_waist = y_top + 0.6 * torso_len
    y_feet = y_hip + leg_len
    if seated:  # the desk hides the lap; the jacket just carries on below it
        y_hip = y_top + 2.3 * hh
        y_waist = y_top + 1.4 * hh
    phase = 2 * math.pi * phase_q / 16.0
    bob = -abs(math.sin(phase)) * 0.05 * hh if walking else 0.0
    pad = int(0.6 * hh) + 4
    cw = int(max(pw, 2 * (half + 0.3 * hh))) + 2 * pad
    chh = int(math.ceil(max(y_feet, y_hip) + 0.2 * hh)) + 2 * pad
    off_x = pad + (cw - 2 * pad - pw) // 2
    off_y = pad
    canvas = np.zeros((chh, cw, 4), np.uint8)

    def P(x: float, y: float) -> tuple[int, int]:
        # fixed-point (4 fractional bits) for cv2's antialiased polygons
        return int(round((x + off_x) * 16)), int(round((y + off_y + bob) * 16))

    def poly(points, colour):
        pts = np.asarray([P(x, y) for x, y in points], np.int32)
        cv2.fillPoly(canvas, [pts], (*colour, 255), lineType=cv2.LINE_AA, shift=4)

    def edge(points, colour, width):
        pts = np.asarray([P(x, y) for x, y in points], np.int32)
        cv2.polylines(canvas, [pts], False, (*colour, 255), max(1, int(width)), lineType=cv2.LINE_AA, shift=4)

    def ellipse(x, y, rx, ry, colour):
        cv2.ellipse(canvas, P(x, y), (int(rx * 16), int(ry * 16)), 0, 0, 360, (*colour, 255),
                    thickness=-1, lineType=cv2.LINE_AA, shift=4)

    jacket = _jacket_colour(look)
    shade = tuple(int(c * 0.70) for c in jacket)
    seam = tuple(int(c * 0.45) for c in jacket)
    skin = (120, 150, 200)

    if not seated:  # legs, behind the jacket
        stride = 0.40 * hh * fore if walking else 0.0
        for side, sgn in ((-1, 1), (1, -1)):
            hip_x = cx + side * hip * 0.48
            fdx = sgn * stride * math.sin(phase)
            lift = max(0.0, sgn * math.cos(phase)) * 0.10 * hh * fore if walking else 0.0
            fx = hip_x + fdx + side * 0.04 * hh
            fy = y_feet - lift
            top_w, bot_w = 0.5 * hip - 0.02 * hh, 0.17 * hh
            col = tuple(int(c * (0.86 if side < 0 else 1.0)) for c in look.trousers)
            knee_y = y_hip + 0.5 * leg_len
            knee_x = hip_x + 0.5 * fdx + side * 0.02 * hh
            poly([(hip_x - top_w, y_hip - 0.1 * hh), (hip_x + top_w, y_hip - 0.1 * hh),
                  (knee_x + 0.21 * hh, knee_y), (fx + bot_w, fy - 0.06 * hh), (fx - bot_w, fy - 0.06 * hh),
                  (knee_x - 0.21 * hh, knee_y)], col)
            ellipse(fx + side * 0.05 * hh, fy - 0.02 * hh, 0.22 * hh, 0.085 * hh, look.shoes)
        edge([(cx, y_hip + 0.02 * hh), (cx, y_hip + 0.35 * leg_len)], tuple(int(c * 0.6) for c in look.trousers),
             0.05 * hh)
    # jacket: shoulders -> waist -> hips, with a shaded flank and a centre seam
    body = [(cx - half, y_top), (cx + half, y_top), (cx + waist, y_waist), (cx + hip, y_hip),
            (cx - hip, y_hip), (cx - waist, y_waist)]
    poly(body, jacket)
    poly([(cx + 0.55 * half, y_top), (cx + half, y_top), (cx + waist, y_waist), (cx + hip, y_hip),
          (cx + 0.6 * hip, y_hip), (cx + 0.5 * waist, y_waist)], tuple(int(c * 0.85) for c in jacket))
    edge([(cx, y_top), (cx, y_hip)], seam, 0.04 * hh)
    if not seated:
        edge([(cx - hip, y_hip - 0.02 * hh), (cx + hip, y_hip - 0.02 * hh)], (30, 30, 32), 0.07 * hh)
    # sleeves hang outside the flanks, hands at the hips
    for side in (-1, 1):
        swing = (0.12 * hh * math.sin(phase) * side) if walking else 0.0
        wrist_x = cx + side * (hip + 0.12 * hh) + swing
        wrist_y = y_hip + (0.0 if seated else 0.05 * hh)
        sleeve = [(cx + side * half, y_top), (cx + side * (half - 0.34 * hh), y_top),
                  (cx + side * (waist - 0.02 * hh), y_waist),
                  (wrist_x - side * 0.20 * hh, wrist_y), (wrist_x + side * 0.06 * hh, wrist_y)]
        poly(sleeve, shade)
        edge([sleeve[1], sleeve[2], sleeve[3]], seam, 0.05 * hh)
        if not seated:
            ellipse(wrist_x - side * 0.07 * hh, wrist_y + 0.12 * hh, 0.12 * hh, 0.15 * hh, skin)
    # the photograph over it all
    oy = off_y + int(round(bob))
    region = canvas[oy:oy + ph, off_x:off_x + pw]
    a = small[..., 3:4].astype(np.int32)
    region[..., :3] = ((small[..., :3].astype(np.int32) * a + region[..., :3].astype(np.int32) * (255 - a))
                       // 255).astype(np.uint8)
    region[..., 3] = np.maximum(region[..., 3], small[..., 3])
    fig = canvas[..., 3] > 96
    ys, xs = np.nonzero(fig.any(axis=1))[0], np.nonzero(fig.any(axis=0))[0]
    bbox = (int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1)
    return Sprite(canvas, ox=int(round(off_x + cx)), feet=int(round(off_y + y_feet)), bbox=bbox,
                  row_counts=np.count_nonzero(fig, axis=1))


# ----------------------------------------------------------------------------- blending helpers
def blit(frame: np.ndarray, bgra: np.ndarray, x: int, y: int, *, gain: int = 256,
         clip: tuple[int, int, int, int] | None = None, opacity: int = 256) -> np.ndarray:
    """Alpha-blend ``bgra`` with its top-left at (x, y); returns the drawn alpha (frame-sized, uint8).

    ``gain`` darkens the sprite (256 = as is), ``clip`` = (x0, y0, x1, y1) limits where it shows,
    ``opacity`` (0..256) fades it.
    """
    h, w = bgra.shape[:2]
    x0, y0, x1, y1 = 0, 0, W, H
    if clip is not None:
        x0, y0, x1, y1 = clip
    fx0, fy0 = max(x, x0), max(y, y0)
    fx1, fy1 = min(x + w, x1), min(y + h, y1)
    drawn = np.zeros((H, W), np.uint8)
    if fx0 >= fx1 or fy0 >= fy1:
        return drawn
    sub = bgra[fy0 - y:fy1 - y, fx0 - x:fx1 - x]
    a = sub[..., 3].astype(np.int32) * opacity >> 8
    src = sub[..., :3].astype(np.int32) * gain >> 8
    dst = frame[fy0:fy1, fx0:fx1].astype(np.int32)
    frame[fy0:fy1, fx0:fx1] = ((src * a[..., None] + dst * (255 - a[..., None])) // 255).astype(np.uint8)
    drawn[fy0:fy1, fx0:fx1] = a.astype(np.uint8)
    return drawn


def paste_masked(frame: np.ndarray, layer: np.ndarray, alpha: np.ndarray,
                 roi: tuple[int, int, int, int] | None = None) -> None:
    """frame = layer over frame where ``alpha`` (uint8) says, within ``roi`` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = roi if roi is not None else (0, 0, W, H)
    sub = alpha[y0:y1, x0:x1]
    ys, xs = np.nonzero(sub.any(axis=1))[0], np.nonzero(sub.any(axis=0))[0]
    if len(ys) == 0:
        return
    sl = np.s_[y0 + ys[0]:y0 + ys[-1] + 1, x0 + xs[0]:x0 + xs[-1] + 1]
    a = alpha[sl].astype(np.int32)[..., None]
    frame[sl] = ((layer[sl].astype(np.int32) * a + frame[sl].astype(np.int32) * (255 - a)) // 255).astype(np.uint8)


# ----------------------------------------------------------------------------- the room
def _noise(shape: tuple[int, int], seed: int, amp: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = rng.integers(-amp, amp + 1, size=shape, dtype=np.int32)
    return cv2.GaussianBlur(n.astype(np.float32), (5, 5), 0).round().astype(np.int32)


def _fill(img: np.ndarray, pts, colour, aa: bool = True) -> None:
    cv2.fillPoly(img, [np.asarray(pts, np.int32)], colour, lineType=cv2.LINE_AA if aa else cv2.LINE_8)


def _texture(img: np.ndarray, mask: np.ndarray, seed: int, amp: int) -> None:
    n = _noise(img.shape[:2], seed, amp)
    t = np.clip(img.astype(np.int32) + n[..., None], 0, 255).astype(np.uint8)
    img[mask] = t[mask]


@dataclass(frozen=True)
class Room:
    """The static layers of one scene's room (built once, reused for every frame)."""

    closed: np.ndarray      # background with the staff door shut
    open: np.ndarray        # background with the staff door open
    desk: np.ndarray        # the counter layer (desk top, counter front): BGR
    desk_alpha: np.ndarray  # where the counter layer hides what is behind it
    glass: np.ndarray       # partition frame and tint: BGR
    glass_alpha: np.ndarray
    chairs: np.ndarray      # teller chair backs: BGR
    chairs_alpha: np.ndarray


def _label(img, text, org, scale, colour, thick=1, font=cv2.FONT_HERSHEY_SIMPLEX):
    cv2.putText(img, text, org, font, scale, colour, thick, cv2.LINE_AA)


def _wall(img: np.ndarray) -> None:
    """The back wall, drawn into ``img``: plaster, wainscot, name board, clock, notice board."""
    # back wall: plaster above a wood wainscot, a cornice at the top of the picture
    img[:WALL_FLOOR_Y] = (178, 196, 212)
    img[:10] = (200, 206, 212)
    cv2.line(img, (0, 10), (W, 10), (150, 160, 170), 2)
    wains = WALL_FLOOR_Y - 96
    img[wains:WALL_FLOOR_Y] = (92, 118, 150)
    for x in range(0, W, 80):
        cv2.line(img, (x, wains + 6), (x, WALL_FLOOR_Y - 8), (80, 104, 134), 1)
    cv2.line(img, (0, wains), (W, wains), (70, 92, 120), 4)
    cv2.rectangle(img, (0, WALL_FLOOR_Y - 10), (W, WALL_FLOOR_Y), (60, 70, 80), -1)
    # name board, clock and notice board on the back wall
    cv2.rectangle(img, (250, 40), (880, 104), (60, 40, 150), -1)
    cv2.rectangle(img, (250, 40), (880, 104), (40, 160, 210), 3)
    _label(img, "CHENGGUAN CREDIT UNION", (282, 88), 1.25, (200, 230, 245), 2, cv2.FONT_HERSHEY_DUPLEX)
    cv2.circle(img, (990, 76), 34, (240, 240, 240), -1)
    cv2.circle(img, (990, 76), 34, (50, 50, 50), 3)
    cv2.line(img, (990, 76), (990, 52), (30, 30, 30), 3)
    cv2.line(img, (990, 76), (1008, 84), (30, 30, 30), 3)
    cv2.rectangle(img, (30, 130), (160, 230), (210, 225, 230), -1)
    cv2.rectangle(img, (30, 130), (160, 230), (90, 110, 120), 2)
    for i in range(5):
        cv2.line(img, (44, 148 + 17 * i), (146, 148 + 17 * i), (150, 150, 150), 2)
    # (no furniture at body height along the back wall: the detector needs a quiet background
    # behind whoever walks to the staff door)
    wall_mask = np.zeros((H, W), bool)
    wall_mask[:WALL_FLOOR_Y] = True
    _texture(img, wall_mask, 11, 5)


def _floor(img: np.ndarray) -> None:
    # floor: a strip of the teller room, the passage, the customer hall in front of the counter
    img[WALL_FLOOR_Y:] = (140, 146, 150)
    for x in range(-40, W, 90):
        cv2.line(img, (x, WALL_FLOOR_Y), (int(W / 2 + (x - W / 2) * 1.6), H), (124, 130, 134), 1, cv2.LINE_AA)
    for y in (WALL_FLOOR_Y + 30, WALL_FLOOR_Y + 80, WALL_FLOOR_Y + 140, WALL_FLOOR_Y + 220):
        cv2.line(img, (0, y), (W, y), (124, 130, 134), 1, cv2.LINE_AA)
    img[COUNTER_FOOT_Y:] = (196, 204, 210)
    for x in range(-100, W + 100, 110):
        cv2.line(img, (x, COUNTER_FOOT_Y), (int(W / 2 + (x - W / 2) * 1.3), H), (170, 178, 186), 1, cv2.LINE_AA)
    for y in (COUNTER_FOOT_Y + 40, COUNTER_FOOT_Y + 100, COUNTER_FOOT_Y + 170):
        cv2.line(img, (0, y), (W, y), (170, 178, 186), 1, cv2.LINE_AA)
    cv2.rectangle(img, (COUNTER_X0 + 30, H - 40), (W - 30, H - 32), (40, 190, 230), -1)  # the one-metre line
    fl_mask = np.zeros((H, W), bool)
    fl_mask[WALL_FLOOR_Y:] = True
    _texture(img, fl_mask, 12, 4)


def _gate_and_door_frame(img: np.ndarray) -> None:
    # walk-round passage: a low swing gate, opened against the counter end, and its post
    g0, g1 = DESK_FRONT_Y - 4, COUNTER_FOOT_Y + 6
    _fill(img, [[COUNTER_X0 - 16, g0], [COUNTER_X0 - 4, g0], [COUNTER_X0 - 4, g1], [COUNTER_X0 - 16, g1 + 2]],
          (70, 96, 130))
    cv2.rectangle(img, (6, g0 - 8), (24, g1 + 6), (90, 90, 92), -1)
    _label(img, "STAFF ONLY", (30, g0 - 12), 0.6, (30, 30, 160), 1)
    # staff door (its top is above the picture)
    cv2.rectangle(img, (DOOR_X0 - 12, 0), (DOOR_X1 + 12, WALL_FLOOR_Y), (58, 78, 104), -1)
    cv2.rectangle(img, (DOOR_X0 - 96, 150), (DOOR_X0 - 26, 178), (70, 150, 60), -1)
    _label(img, "STAFF", (DOOR_X0 - 90, 171), 0.6, (240, 255, 240), 1)


def _doors(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(closed, open): the background with the staff door shut and open."""
    closed = img.copy()
    cv2.rectangle(closed, (DOOR_X0, 0), (DOOR_X1, WALL_FLOOR_Y - 2), (96, 130, 168), -1)
    for y0, y1 in ((20, 170), (200, WALL_FLOOR_Y - 24)):
        cv2.rectangle(closed, (DOOR_X0 + 16, y0), (DOOR_X1 - 16, y1), (84, 116, 150), 2)
    cv2.circle(closed, (DOOR_X1 - 18, 215), 6, (180, 190, 200), -1)
    opened = img.copy()
    inner = np.linspace(72, 36, WALL_FLOOR_Y - 2).astype(np.int32)
    opened[:WALL_FLOOR_Y - 2, DOOR_X0:DOOR_X1] = np.stack([inner + 4, inner, inner - 4], axis=1)[:, None, :]
    _fill(opened, [[DOOR_X0, 0], [DOOR_X0 + 20, 0], [DOOR_X0 + 20, WALL_FLOOR_Y - 12], [DOOR_X0, WALL_FLOOR_Y - 2]],
          (80, 110, 144))
    return closed, opened


def _counter(closed_window: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(desk, desk_alpha): the counter layer."""
    # the counter layer: desk top, counter front, monitors on the desk
    desk = np.zeros((H, W, 3), np.uint8)
    dmask = np.zeros((H, W), np.uint8)
    top = [[COUNTER_X0, DESK_BACK_Y], [W, DESK_BACK_Y], [W, DESK_FRONT_Y], [COUNTER_X0, DESK_FRONT_Y]]
    _fill(desk, top, (188, 196, 200), aa=False)
    _fill(dmask, top, 255, aa=False)
    cv2.line(desk, (COUNTER_X0, DESK_BACK_Y), (W, DESK_BACK_Y), (150, 156, 160), 2)
    front = [[COUNTER_X0, DESK_FRONT_Y], [W, DESK_FRONT_Y], [W, COUNTER_FOOT_Y], [COUNTER_X0, COUNTER_FOOT_Y]]
    _fill(desk, front, (196, 200, 202), aa=False)  # light stone: heads in front of it stand out
    _fill(dmask, front, 255, aa=False)
    cv2.rectangle(desk, (COUNTER_X0, DESK_FRONT_Y), (W, DESK_FRONT_Y + 12), (92, 116, 150), -1)
    cv2.rectangle(desk, (COUNTER_X0, COUNTER_FOOT_Y - 12), (W, COUNTER_FOOT_Y), (40, 44, 48), -1)
    for x in range(COUNTER_X0 + 120, W, 180):
        cv2.line(desk, (x, DESK_FRONT_Y + 14), (x, COUNTER_FOOT_Y - 14), (168, 172, 176), 2)
    for i, wx in enumerate(WINDOW_X, start=1):  # transaction troughs, a monitor left of each open window
        cv2.rectangle(desk, (wx - 56, DESK_FRONT_Y - 8), (wx + 56, DESK_FRONT_Y + 10), (70, 74, 78), -1)
        if i == closed_window:
            continue
        mx = wx - 128
        _fill(desk, [[mx - 38, DESK_BACK_Y - 62], [mx + 38, DESK_BACK_Y - 62], [mx + 38, DESK_BACK_Y - 8],
                     [mx - 38, DESK_BACK_Y - 8]], (40, 40, 42))
        cv2.rectangle(desk, (mx - 33, DESK_BACK_Y - 57), (mx + 33, DESK_BACK_Y - 13), (120, 90, 60), -1)
        cv2.rectangle(desk, (mx - 6, DESK_BACK_Y - 8), (mx + 6, DESK_BACK_Y + 6), (40, 40, 42), -1)
        cv2.rectangle(dmask, (mx - 38, DESK_BACK_Y - 62), (mx + 38, DESK_BACK_Y + 6), 255, -1)
    _texture(desk, dmask > 0, 13, 3)
    return desk, dmask


def _chairs() -> tuple[np.ndarray, np.ndarray]:
    # chair backs: in front of whoever walks along the aisle, behind whoever sits on them
    chairs = np.zeros((H, W, 3), np.uint8)
    cmask = np.zeros((H, W), np.uint8)
    for wx in WINDOW_X:
        for im, col in ((chairs, (45, 45, 50)), (cmask, 255)):
            cv2.rectangle(im, (wx - 64, DESK_BACK_Y - 132), (wx + 64, DESK_BACK_Y + 4), col, -1)
        cv2.rectangle(chairs, (wx - 64, DESK_BACK_Y - 132), (wx + 64, DESK_BACK_Y + 4), (25, 25, 28), 3)
    return chairs, cmask


def _glass(closed_window: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(glass, glass_alpha): the partition above the counter, with the window numbers."""
    # glass partition: a light tint, reflection streaks, an aluminium frame
    glass = np.zeros((H, W, 3), np.uint8)
    galpha = np.zeros((H, W), np.uint8)
    pane = [[COUNTER_X0, GLASS_TOP_Y], [W, GLASS_TOP_Y], [W, DESK_FRONT_Y], [COUNTER_X0, DESK_FRONT_Y]]
    _fill(glass, pane, (210, 214, 200), aa=False)
    _fill(galpha, pane, 18, aa=False)
    for x0 in (330, 800, 1180):
        streak = [[x0, GLASS_TOP_Y], [x0 + 44, GLASS_TOP_Y], [x0 - 70, DESK_FRONT_Y], [x0 - 114, DESK_FRONT_Y]]
        _fill(galpha, streak, 30, aa=False)
        _fill(glass, streak, (245, 245, 240), aa=False)
    cv2.rectangle(glass, (COUNTER_X0, GLASS_TOP_Y - 12), (W, GLASS_TOP_Y), (170, 172, 176), -1)
    cv2.rectangle(galpha, (COUNTER_X0, GLASS_TOP_Y - 12), (W, GLASS_TOP_Y), 255, -1)
    for mxp in MULLIONS_X:
        # frameless panes: a thin bright joint, half transparent (a solid post across a face makes the
        # detector lose whoever walks behind it)
        cv2.rectangle(glass, (mxp - 2, GLASS_TOP_Y), (mxp + 2, DESK_FRONT_Y), (226, 230, 232), -1)
        cv2.rectangle(galpha, (mxp - 2, GLASS_TOP_Y), (mxp + 2, DESK_FRONT_Y), 120, -1)
        cv2.rectangle(glass, (mxp - 7, DESK_FRONT_Y - 14), (mxp + 7, DESK_FRONT_Y), (150, 152, 156), -1)
        cv2.rectangle(galpha, (mxp - 7, DESK_FRONT_Y - 14), (mxp + 7, DESK_FRONT_Y), 255, -1)
    for i, wx in enumerate(WINDOW_X, start=1):
        px = wx - 160
        cv2.rectangle(glass, (px - 18, GLASS_TOP_Y - 12), (px + 18, GLASS_TOP_Y + 18), (160, 90, 30), -1)
        cv2.rectangle(galpha, (px - 18, GLASS_TOP_Y - 12), (px + 18, GLASS_TOP_Y + 18), 255, -1)
        _label(glass, str(i), (px - 8, GLASS_TOP_Y + 12), 0.75, (255, 255, 255), 2)
        if i == closed_window:
            sx, sy = wx - 170, DESK_FRONT_Y - 56
            cv2.rectangle(glass, (sx, sy), (sx + 108, sy + 44), (240, 240, 240), -1)
            cv2.rectangle(galpha, (sx, sy), (sx + 108, sy + 44), 255, -1)
            _label(glass, "WINDOW", (sx + 12, sy + 18), 0.5, (30, 30, 170), 1)
            _label(glass, "CLOSED", (sx + 14, sy + 37), 0.5, (30, 30, 170), 1)
    return glass, galpha


def build_room(closed_window: int | None = 3) -> Room:
    img = np.zeros((H, W, 3), np.uint8)
    _wall(img)
    _floor(img)
    _gate_and_door_frame(img)
    closed, opened = _doors(img)
    desk, dmask = _counter(closed_window)
    chairs, cmask = _chairs()
    glass, galpha = _glass(closed_window)
    return Room(closed=closed, open=opened, desk=desk, desk_alpha=dmask, glass=glass, glass_alpha=galpha,
                chairs=chairs, chairs_alpha=cmask)


# ----------------------------------------------------------------------------- counter items
@dataclass(frozen=True)
class ItemSpec:
    kind: str  # cash | seal | cards
    x: int     # centre on the desk top
    y: int


def draw_item(frame: np.ndarray, item: ItemSpec) -> None:
    x, y = item.x, item.y
    if item.kind == "cash":
        # two bundles of 100-yuan notes side by side, each tied with a paper band
        for bx in (x - 50, x + 2):
            for k in range(3):  # a small stack: the edges of the notes show
                o = 3 * (2 - k)
                cv2.rectangle(frame, (bx, y - 14 + o), (bx + 48, y + 12 + o), (92, 80, 196), -1)
                cv2.rectangle(frame, (bx, y - 14 + o), (bx + 48, y + 12 + o), (70, 60, 150), 1)
            cv2.rectangle(frame, (bx, y - 14), (bx + 48, y + 12), (120, 104, 220), -1)
            cv2.rectangle(frame, (bx + 6, y - 10), (bx + 42, y + 8), (150, 130, 232), 1)
            cv2.circle(frame, (bx + 14, y - 1), 6, (100, 84, 200), -1)
            cv2.rectangle(frame, (bx + 20, y - 15), (bx + 28, y + 13), (235, 240, 242), -1)
    elif item.kind == "seal":
        # a seal box: red lid, the seal's wooden handle standing beside it
        cv2.rectangle(frame, (x - 22, y - 12), (x + 22, y + 14), (40, 40, 170), -1)
        cv2.rectangle(frame, (x - 22, y - 12), (x + 22, y + 14), (25, 25, 110), 2)
        cv2.rectangle(frame, (x - 18, y - 9), (x + 18, y - 2), (60, 60, 200), -1)
        cv2.ellipse(frame, (x + 36, y + 10), (11, 5), 0, 0, 360, (30, 30, 140), -1)
        cv2.rectangle(frame, (x + 30, y - 18), (x + 42, y + 10), (50, 90, 150), -1)
        cv2.ellipse(frame, (x + 36, y - 18), (9, 5), 0, 0, 360, (70, 120, 180), -1)
    elif item.kind == "cards":
        # teller card and a customer's bank cards, fanned out
        for k, col in enumerate(((180, 110, 20), (40, 160, 220), (60, 60, 60))):
            ox = x - 34 + 20 * k
            oy = y - 12 + 3 * k
            cv2.rectangle(frame, (ox, oy), (ox + 40, oy + 24), col, -1)
            cv2.rectangle(frame, (ox, oy + 5), (ox + 40, oy + 9), (30, 30, 30), -1)
            cv2.rectangle(frame, (ox + 4, oy + 13), (ox + 12, oy + 19), (60, 200, 230), -1)
    else:
        raise ValueError(f"unknown item kind {item.kind!r}; use cash, seal or cards")


def item_box(item: ItemSpec) -> tuple[int, int, int, int]:
    x, y = item.x, item.y
    if item.kind == "cash":
        return x - 50, y - 14, x + 50, y + 18
    if item.kind == "seal":
        return x - 22, y - 23, x + 47, y + 15
    return x - 34, y - 12, x + 46, y + 18


# ----------------------------------------------------------------------------- the CCTV overlay
def draw_osd(frame: np.ndarray, stamp: str, camera: str) -> None:
    # a one-pixel black shadow keeps the text legible on the light floor (OpenCV 5 draws a
    # thicker stroke as a bolder, wider face, so the shadow is offset copies, not a thick stroke)
    for text, x in ((stamp, 12), (camera, W - 14 - 11 * len(camera))):
        for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1), (1, 1)):
            cv2.putText(frame, text, (x + dx, H - 14 + dy), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1,
                        cv2.LINE_AA)
        cv2.putText(frame, text, (x, H - 14), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (245, 245, 245), 1, cv2.LINE_AA)



# ----------------------------------------------------------------------------- a carried cash box
@dataclass(frozen=True)
class CaseSpec:
    """A hard-shell cash box (款箱) standing on the hall floor, its bottom at row ``y``, centred on
    ``x``, ``w`` x ``h`` px, with a pull handle ``handle`` px high (0: a carry handle on top).

    COCO has no cash box, so it is drawn the way the embedded SSD recognises a ``suitcase``: wider
    than tall, rounded corners, a shine, raised ribs and a rim seam, a shadow on the floor (found
    at confidence 0.7 - 0.9 across the hall floor at this size; plain boxes, square trolley cases
    with wheels and anything much smaller were not found at all)."""

    x: int
    y: int
    w: int = 240
    h: int = 160
    colour: tuple[int, int, int] = (30, 40, 150)  # BGR: a dark red shell
    handle: int = 0


def case_box(case: CaseSpec) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of the shell (the handle above it not counted)."""
    x0 = case.x - case.w // 2
    return x0, case.y - case.h, x0 + case.w, case.y


def _shade(c: tuple[int, int, int], gain: int) -> tuple[int, int, int]:
    b, g, r = (min(v * gain // 256, 255) for v in c)
    return b, g, r


def draw_case(frame: np.ndarray, case: CaseSpec) -> None:
    w, h, col = case.w, case.h, case.colour
    x0, y0, x1, y1 = case_box(case)
    cv2.ellipse(frame, (case.x + 10, y1 - 2), (w // 2 + 14, 12), 0, 0, 360, (110, 116, 120), -1, cv2.LINE_AA)
    r = w // 5
    mask = np.zeros((h, w), np.uint8)
    cv2.rectangle(mask, (r, 0), (w - 1 - r, h - 1), 255, -1)
    cv2.rectangle(mask, (0, r), (w - 1, h - 1 - r), 255, -1)
    for cx, cy in ((r, r), (w - 1 - r, r), (r, h - 1 - r), (w - 1 - r, h - 1 - r)):
        cv2.circle(mask, (cx, cy), r, 255, -1, cv2.LINE_AA)
    xs = np.arange(w, dtype=np.int32)[None, :]
    ys = np.arange(h, dtype=np.int32)[:, None]
    # lit from above, with a soft vertical shine at a third of the width (integer Gaussian)
    d = (xs - (w * 3) // 10) * 100 // max(w * 8 // 100, 1)
    shine = (70 * 10000) // (10000 + d * d)
    gain = 300 - (ys * 60) // h + shine
    c = np.asarray(col, np.int32)
    shell = np.clip(c[None, None, :] * gain[..., None] // 256 + np.maximum(gain - 300, 0)[..., None] // 2, 0, 255)
    canvas = shell.astype(np.uint8)
    for k in (1, 2, 3):  # raised ribs: a lit and a shaded edge
        rx = w * k // 4
        cv2.line(canvas, (rx - 3, r), (rx - 3, h - r), _shade(col, 340), 2, cv2.LINE_AA)
        cv2.line(canvas, (rx + 2, r), (rx + 2, h - r), _shade(col, 150), 3, cv2.LINE_AA)
    cv2.rectangle(canvas, (8, 8), (w - 9, h - 9), _shade(col, 110), 3, cv2.LINE_AA)  # rim seam
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(canvas, contours, -1, _shade(col, 90), 3, cv2.LINE_AA)
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if fx0 >= fx1 or fy0 >= fy1:
        return
    sub = np.s_[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
    a = mask[sub].astype(np.int32)[..., None]
    dst = frame[fy0:fy1, fx0:fx1].astype(np.int32)
    frame[fy0:fy1, fx0:fx1] = ((canvas[sub].astype(np.int32) * a + dst * (255 - a)) // 255).astype(np.uint8)
    if case.handle > 0:  # a pull handle drawn out: two bars and a grip
        top = y0 - case.handle
        for bx in (case.x - w // 6, case.x + w // 6):
            cv2.rectangle(frame, (bx - 4, top), (bx + 4, y0), (170, 170, 176), -1)
        cv2.rectangle(frame, (case.x - w // 6 - 8, top - 12), (case.x + w // 6 + 8, top + 4), (30, 30, 34), -1)
    else:
        cv2.ellipse(frame, (case.x, y0), (w // 6, max(h // 10, 8)), 0, 180, 360, (30, 30, 34), 7, cv2.LINE_AA)
