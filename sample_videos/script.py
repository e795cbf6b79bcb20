"""Scripted actors and items, and the per-frame composition of a scene.

An actor is a list of keyframes (time, position, how far seated, how far through the staff
door); between keys everything moves linearly, and the walking phase follows the distance
walked. A scene composes its actors and items over the room for each frame and reports, beside
the picture, where each person is drawn (used for ground truth and for the detection check).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sample_videos import render as R

WALK_PX_S = 150.0   # walking speed across the picture
DOOR_CX = (R.DOOR_X0 + R.DOOR_X1) // 2
SIT_DROP = 0.8      # a seated head is this many head heights lower than a standing one


@dataclass(frozen=True)
class Key:
    t: float
    x: float
    y: float          # feet row (for a seated person: where the chair stands)
    sit: float = 0.0  # 0 standing .. 1 seated
    door: float = 0.0  # 0 in the room .. 1 gone through the staff door


@dataclass(frozen=True)
class Pose:
    x: float
    y: float
    sit: float
    door: float
    walking: bool
    dist: float


class Actor:
    """One person and what they do. Builder methods append keyframes and return ``self``."""

    def __init__(self, name: str, look: R.Look, role: str, *, t: float, x: float, y: float,
                 sit: float = 0.0, door: float = 0.0, sway_seed: int = 0) -> None:
        if role not in ("staff", "customer"):
            raise ValueError(f"role must be 'staff' or 'customer', got {role!r}")
        self.name, self.look, self.role = name, look, role
        self.keys: list[Key] = [Key(t, x, y, sit, door)]
        self.end: float | None = None  # gone for good after this time
        self.start = t
        self.sway_seed = sway_seed
        self.door_transits: list[tuple[float, float]] = []
        self.case: Carried | None = None

    def carrying(self, dx: int, dy: int = 16, handle: int = 40) -> Actor:
        """Pulls a cash box along the floor beside them: its centre ``dx`` px to the side of their feet,
        its bottom ``dy`` px nearer the camera, its handle drawn out ``handle`` px to their hand."""
        self.case = Carried(dx, dy, handle)
        return self

    @property
    def last(self) -> Key:
        return self.keys[-1]

    def _add(self, dt: float, **change: float) -> Actor:
        k = self.last
        vals = {"x": k.x, "y": k.y, "sit": k.sit, "door": k.door}
        vals.update(change)
        self.keys.append(Key(k.t + dt, **vals))
        return self

    def wait_until(self, t: float) -> Actor:
        if t < self.last.t - 1e-9:
            raise ValueError(f"{self.name}: wait_until({t}) is before the last key at {self.last.t}")
        return self._add(t - self.last.t)

    def wait(self, dt: float) -> Actor:
        return self._add(dt)

    def walk(self, *points: tuple[float, float], speed: float = WALK_PX_S) -> Actor:
        for x, y in points:
            k = self.last
            d = math.hypot(x - k.x, y - k.y)
            self._add(max(d / speed, 0.1), x=x, y=y)
        return self

    def stand_up(self, dur: float = 1.2) -> Actor:
        return self._add(dur, sit=0.0)

    def sit_down(self, dur: float = 1.2) -> Actor:
        return self._add(dur, sit=1.0)

    def exit_door(self, dur: float = 1.4) -> Actor:
        """From in front of the staff door, through it, gone."""
        t0 = self.last.t
        self._add(dur, door=1.0, y=self.last.y - 10)
        self.door_transits.append((t0, self.last.t))
        self.end = self.last.t
        return self

    def enter_door(self, t: float, dur: float = 1.4) -> Actor:
        """Appear out of the staff door at ``t`` (the actor must have been created with door=1)."""
        self.wait_until(t)
        self._add(dur, door=0.0, y=R.AISLE_Y)
        self.door_transits.append((t, self.last.t))
        return self

    def leave_at(self, t: float) -> Actor:
        """Gone after ``t`` (walked out of the picture)."""
        self.end = t
        return self

    def pose(self, t: float) -> Pose | None:
        if t < self.start - 1e-9 or (self.end is not None and t > self.end + 1e-9):
            return None
        keys = self.keys
        dist = 0.0
        if t >= keys[-1].t:
            for a, b in zip(keys, keys[1:], strict=False):
                dist += math.hypot(b.x - a.x, b.y - a.y)
            k = keys[-1]
            return Pose(k.x, k.y, k.sit, k.door, False, dist)
        for a, b in zip(keys, keys[1:], strict=False):
            seg = math.hypot(b.x - a.x, b.y - a.y)
            if t <= b.t:
                u = 0.0 if b.t <= a.t else (t - a.t) / (b.t - a.t)
                return Pose(
                    a.x + (b.x - a.x) * u,
                    a.y + (b.y - a.y) * u,
                    a.sit + (b.sit - a.sit) * u,
                    a.door + (b.door - a.door) * u,
                    seg > 1.0 and a.door == b.door == 0.0,
                    dist + seg * u,
                )
            dist += seg
        return None  # unreachable


@dataclass(frozen=True)
class Carried:
    dx: int
    dy: int
    handle: int

    def spec(self, p: Pose) -> R.CaseSpec:
        return R.CaseSpec(int(round(p.x)) + self.dx, int(round(p.y)) + self.dy, handle=self.handle)


@dataclass(frozen=True)
class Placed:
    item: R.ItemSpec
    t_on: float
    t_off: float  # taken away (inf: stays)


@dataclass(frozen=True)
class Drawn:
    """Where one person ended up in a frame."""

    name: str
    role: str
    box: tuple[int, int, int, int] | None  # visible part, x0 y0 x1 y1 (None: nothing shows)
    visible: float                         # drawn alpha / the whole figure's alpha, desk not counted
    full_view: bool                        # whole figure in view: not in the doorway, not cut by the
                                           # frame edge, not covered by another person
    case: tuple[int, int, int, int] | None = None  # the box of the cash box they pull (its shell)


@dataclass
class Stage:
    """A scene's room, actors and items, composed frame by frame."""

    camera: str
    room: R.Room
    actors: list[Actor]
    items: list[Placed] = field(default_factory=list)
    night: bool = False
    _statics: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def door_open(self, t: float) -> bool:
        return any(t0 - 1.0 <= t <= t1 + 1.0 for a in self.actors for t0, t1 in a.door_transits)

    def _static(self, door_open: bool) -> np.ndarray:
        """Background with chairs, desk and glass over it: what a frame is where nobody is."""
        key = "open" if door_open else "closed"
        cached = self._statics.get(key)
        if cached is None:
            cached = (self.room.open if door_open else self.room.closed).copy()
            for layer, alpha in ((self.room.chairs, self.room.chairs_alpha), (self.room.desk, self.room.desk_alpha),
                                 (self.room.glass, self.room.glass_alpha)):
                R.paste_masked(cached, layer, alpha)
            self._statics[key] = cached
        return cached

    def compose(self, t: float, stamp: str) -> tuple[np.ndarray, list[Drawn]]:
        door_open = self.door_open(t)
        frame = self._static(door_open).copy()
        poses = [(a, a.pose(t)) for a in self.actors]
        present = [(a, p) for a, p in poses if p is not None and p.door < 1.0]
        aisle = sorted([ap for ap in present if ap[1].y < R.CHAIR_DEPTH_Y], key=lambda ap: ap[1].y)
        back = sorted([ap for ap in present if R.CHAIR_DEPTH_Y <= ap[1].y <= R.COUNTER_FOOT_Y],
                      key=lambda ap: ap[1].y)
        front = sorted([ap for ap in present if ap[1].y > R.COUNTER_FOOT_Y], key=lambda ap: ap[1].y)
        items = [pl.item for pl in self.items if pl.t_on <= t < pl.t_off]
        plans = {a.name: self._plan(a, p, t) for a, p in present}
        # people and items behind the partition are drawn into a region of interest that is reset
        # to the bare background first, then the chairs, desk and glass go back over it
        rects = [plans[a.name].rect for a, _ in aisle + back] + [_pad(R.item_box(it), 3) for it in items]
        roi = _union(rects)
        layers: list[tuple[Actor, np.ndarray, int, tuple[int, int, int, int]]] = []
        n_aisle = 0
        if roi is not None:
            sl = np.s_[roi[1]:roi[3], roi[0]:roi[2]]
            frame[sl] = (self.room.open if door_open else self.room.closed)[sl]
            for a, _ in aisle:
                layers.append((a, *self._draw(frame, plans[a.name])))
            n_aisle = len(layers)
            R.paste_masked(frame, self.room.chairs, self.room.chairs_alpha, roi)
            for a, _ in back:
                layers.append((a, *self._draw(frame, plans[a.name])))
            R.paste_masked(frame, self.room.desk, self.room.desk_alpha, roi)
            for it in items:
                R.draw_item(frame, it)
            R.paste_masked(frame, self.room.glass, self.room.glass_alpha, roi)
        desk_cover = self.room.desk_alpha > 0
        chair_cover = self.room.chairs_alpha > 0
        front_layers = []
        cases: dict[str, tuple[int, int, int, int]] = {}
        for a, p in front:
            front_layers.append((a, *self._draw(frame, plans[a.name])))
            if a.case is not None:  # in front of its carrier's legs, the handle up to the hand
                spec = a.case.spec(p)
                R.draw_case(frame, spec)
                cases[a.name] = R.case_box(spec)
        if self.night:
            frame[:] = (frame.astype(np.uint16) * np.array([178, 164, 150], np.uint16) >> 8).astype(np.uint8)
        R.draw_osd(frame, stamp, self.camera.upper())
        drawn = []
        all_layers = layers + front_layers
        pose_of = dict(present)
        for i, (a, alpha, full, sprite_box) in enumerate(all_layers):
            vis = alpha > 96
            if i < len(layers):
                vis &= ~desk_cover
            if i < n_aisle:
                vis &= ~chair_cover
            covered = np.zeros_like(vis)
            for _, later, _, _ in all_layers[i + 1:]:
                covered |= later > 96
            seen = vis & ~covered
            ys, xs = np.nonzero(seen.any(axis=1))[0], np.nonzero(seen.any(axis=0))[0]
            box = (int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1) if len(ys) else None
            on = int(np.count_nonzero(alpha > 96))
            frac = on / max(full, 1)
            hidden_by_people = int(np.count_nonzero(vis & covered))
            fx0, fy0, fx1, _ = sprite_box
            # customers at the counter are cut off at the hips by the bottom of the frame: that is
            # how they are always seen, so only the sides and the top count as leaving the view
            inside = fx0 >= 0 and fy0 >= 0 and fx1 <= R.W
            full_view = (pose_of[a].door == 0.0 and inside and frac > 0.97
                         and hidden_by_people < 0.05 * max(int(np.count_nonzero(vis)), 1))
            drawn.append(Drawn(a.name, a.role, box, round(frac, 3), full_view, cases.get(a.name)))
        return frame, drawn

    def _plan(self, a: Actor, p: Pose, t: float) -> _Plan:
        standing = R.head_height(p.y)
        hh = standing + p.sit * (R.SEATED_HH - standing)
        fore = R.foreshortening(p.y)
        phase_q = int(p.dist / (1.9 * hh) * 16) % 16 if p.walking else 0
        sprite = R.person_sprite(a.look, int(round(hh)), int(round(fore * 20)), phase_q, p.walking,
                                 p.sit > 0.5)
        drop = p.sit * SIT_DROP * hh
        sway_x = sway_y = 0
        if p.sit > 0.99 and not p.walking:
            s = a.sway_seed
            sway_x = int(round(1.6 * math.sin(2 * math.pi * t / (6.0 + s % 3) + s)))
            sway_y = int(round(1.0 * math.sin(2 * math.pi * t / (4.0 + s % 2) + 2 * s)))
        x = int(round(p.x)) - sprite.ox + sway_x
        y = int(round(p.y + drop)) - sprite.feet + sway_y
        clip = None
        gain = 256
        opacity = 256
        if p.door > 0.0:
            clip = (R.DOOR_X0, R.DOOR_Y0, R.DOOR_X1, R.WALL_FLOOR_Y - 2)
            gain = int(256 * (1.0 - 0.5 * p.door))
            opacity = int(256 * min(1.0, 2.0 * (1.0 - p.door)))
        h, w = sprite.bgra.shape[:2]
        return _Plan(sprite, x, y, clip, gain, opacity, (x, y, x + w, y + h))

    @staticmethod
    def _draw(frame: np.ndarray, plan: _Plan):
        sp = plan.sprite
        rows_in_frame = max(0, min(len(sp.row_counts), R.H - plan.y))
        full = int(sp.row_counts[max(0, -plan.y):rows_in_frame].sum())  # all of it the frame bottom leaves
        alpha = R.blit(frame, sp.bgra, plan.x, plan.y, gain=plan.gain, clip=plan.clip, opacity=plan.opacity)
        bx0, by0, bx1, by1 = sp.bbox
        return alpha, full, (plan.x + bx0, plan.y + by0, plan.x + bx1, plan.y + by1)


@dataclass(frozen=True)
class _Plan:
    sprite: R.Sprite
    x: int
    y: int
    clip: tuple[int, int, int, int] | None
    gain: int
    opacity: int
    rect: tuple[int, int, int, int]


def _pad(r: tuple[int, int, int, int], k: int) -> tuple[int, int, int, int]:
    return r[0] - k, r[1] - k, r[2] + k, r[3] + k


def _union(rects: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int] | None:
    if not rects:
        return None
    x0 = max(min(r[0] for r in rects), 0)
    y0 = max(min(r[1] for r in rects), 0)
    x1 = min(max(r[2] for r in rects), R.W)
    y1 = min(max(r[3] for r in rects), R.H)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1
