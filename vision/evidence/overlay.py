"""What the annotated clip and the snapshot draw over the raw picture, and the drawing itself.

The pipeline hands one ``Overlay`` per analysed frame alongside the frame; the recorder keeps it
next to the compressed frame in the ring buffer, so a clip's pre-roll can be annotated with what
the pipeline saw at the time rather than with what it sees when the violation is confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np
import supervision as sv
from PIL import Image, ImageDraw

from vision.config import CameraConfig, ZoneKind
from vision.events import RuleType
from vision.evidence.fonts import FontSet, default_fonts
from vision.observations import IS_STAFF, LABEL, ZONE
from vision.zones import anchor_for, anchor_positions

# BGR-agnostic: supervision's Color converts to BGR itself when drawing.
STAFF_COLOR = sv.Color.from_hex("#2ecc71")
NON_STAFF_COLOR = sv.Color.from_hex("#ff3b30")
UNDECIDED_COLOR = sv.Color.from_hex("#f5c542")
ITEM_COLOR = sv.Color.from_hex("#00b7ff")
ZONE_COLORS: dict[str, sv.Color] = {
    ZoneKind.teller_area.value: sv.Color.from_hex("#a351fb"),
    ZoneKind.counter.value: sv.Color.from_hex("#ff9f1a"),
    ZoneKind.customer_area.value: sv.Color.from_hex("#36c5f0"),
    ZoneKind.door.value: sv.Color.from_hex("#cccccc"),
    ZoneKind.generic.value: sv.Color.from_hex("#ffffff"),
}
_STAFF, _NON_STAFF, _UNDECIDED = 0, 1, 2


@dataclass(frozen=True, slots=True)
class ZoneOverlay:
    """A zone outline in pixels of the frame it accompanies."""

    name: str
    kind: str
    polygon: np.ndarray  # (N, 2) pixel coordinates
    anchor: str = "center"  # the point of a person's box tested against this zone (vision.zones)


@dataclass(frozen=True, slots=True)
class RuleOverlay:
    """A rule whose condition currently holds, and for how long it has held.

    ``violation_id`` is set once the grace ran out (the violation is open); ``score`` is the
    rule's clarity of this frame for the snapshot (see ``vision.rules.base.RuleStatus``).
    """

    name: str
    elapsed_s: float
    rule: str = ""
    zone: str = ""
    violation_id: str | None = None
    score: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class ZoneCount:
    persons: int = 0
    staff: int = 0


@dataclass(frozen=True, slots=True)
class Overlay:
    """What to draw on one frame; every coordinate is in pixels of that frame.

    ``persons`` carries ``tracker_id`` and, where identity is known, ``data["is_staff"]`` (an object
    array of True / False / None) which picks the box colour; ``labels`` holds one text per person
    box (``"#3 staff"``). Items are drawn in an alarm colour with ``item_labels``. ``counts`` holds
    each zone's persons and staff as the rules saw them (for "在岗 1/2" and empty seats).
    """

    zones: tuple[ZoneOverlay, ...] = ()
    persons: sv.Detections = field(default_factory=sv.Detections.empty)
    labels: tuple[str, ...] = ()
    items: sv.Detections = field(default_factory=sv.Detections.empty)
    item_labels: tuple[str, ...] = ()
    rules: tuple[RuleOverlay, ...] = ()
    counts: dict[str, ZoneCount] = field(default_factory=dict)

    @classmethod
    def from_detections(
        cls,
        camera: CameraConfig,
        persons: sv.Detections,
        items: sv.Detections,
        counts: dict[str, ZoneCount],
        width: int,
        height: int,
        rules: Sequence[RuleOverlay] = (),
    ) -> Overlay:
        """The overlay of the pipeline's own Detections, in pixels of the frame: the persons with
        ``tracker_id`` and ``data["is_staff"]``, the counter items with ``tracker_id`` (the item id),
        ``data["label"]`` and ``data["zone"]`` (see ``vision.observations``)."""
        n = len(persons)
        ids = persons.tracker_id if persons.tracker_id is not None else np.full(n, -1)
        staff = persons.data.get(IS_STAFF)
        labels = tuple(f"#{int(ids[i])} {_role_word(staff[i] if staff is not None else None)}" for i in range(n))
        item_labels: tuple[str, ...] = ()
        if len(items):
            item_labels = tuple(f"{label} @{zone}" for label, zone in zip(items.data[LABEL], items.data[ZONE],
                                                                           strict=True))
        return cls(zones_in_pixels(camera, width, height), persons if n else sv.Detections.empty(), labels,
                   items if len(items) else sv.Detections.empty(), item_labels, tuple(rules), counts)

    def scaled(self, factor: float) -> Overlay:
        """The same overlay for a frame resized by ``factor`` (ring frames may be downscaled)."""
        if factor == 1.0:
            return self
        zones = tuple(
            ZoneOverlay(z.name, z.kind, np.asarray(z.polygon, dtype=np.float64) * factor, z.anchor)
            for z in self.zones
        )
        return Overlay(
            zones,
            _scale_detections(self.persons, factor),
            self.labels,
            _scale_detections(self.items, factor),
            self.item_labels,
            self.rules,
            self.counts,
        )


def _role_word(is_staff: bool | None) -> str:
    return "staff" if is_staff is True else "non-staff" if is_staff is False else "?"


def _scale_detections(dets: sv.Detections, factor: float) -> sv.Detections:
    if len(dets) == 0:
        return dets
    return sv.Detections(
        xyxy=dets.xyxy * factor,
        confidence=dets.confidence,
        class_id=dets.class_id,
        tracker_id=dets.tracker_id,
        data=dict(dets.data),
    )


def zones_in_pixels(camera: CameraConfig, width: int, height: int) -> tuple[ZoneOverlay, ...]:
    """Config polygons are normalised; drawing needs them in this frame's pixels."""
    scale = np.asarray([width, height], dtype=np.float64)
    return tuple(ZoneOverlay(z.name, z.kind.value, z.points.astype(np.float64) * scale, anchor_for(z))
                 for z in camera.zones)


def _roles(persons: sv.Detections) -> np.ndarray:
    flags = persons.data.get("is_staff") if persons.data else None
    roles = np.full(len(persons), _UNDECIDED, dtype=int)
    if flags is not None and len(flags) == len(persons):
        for i, flag in enumerate(flags):
            if flag is True or flag is np.True_:
                roles[i] = _STAFF
            elif flag is False or flag is np.False_:
                roles[i] = _NON_STAFF
    return roles


@dataclass(frozen=True, slots=True)
class Focus:
    """The violation a clip or snapshot is about, as of one frame.

    ``phase``: ``pre`` (pre-roll, ``elapsed_s`` < 0), ``active`` or ``after`` (post-roll, seconds
    since it cleared in ``elapsed_s``). ``attended_by`` and ``min_staff`` come from the rule's config.
    """

    rule: str
    zone: str
    phase: str
    elapsed_s: float
    min_staff: int | None = None
    attended_by: str | None = None


# what each rule says on the picture: (Chinese, English)
RULE_WORDS: dict[str, tuple[str, str]] = {
    "dual_teller": ("双人临柜", "Dual teller"),
    "unattended_items": ("柜面现金无人看管", "Cash unattended"),
    "non_staff_in_area": ("非营业人员", "Non-staff in teller area"),
    "tailgating": ("防尾随联动门", "Tailgating at door"),
    "cash_escort": ("款箱护送不足", "Cash-box escort"),
    "intrusion": ("110 防盗入侵", "Intrusion after hours"),
    "camera_tamper": ("摄像机遮挡/移位", "Camera tampered"),
    "camera_offline": ("摄像机离线", "Camera offline"),
}
NON_STAFF_WORDS = ("非营业人员", "Non-staff")
EMPTY_SEAT_WORDS = ("空位", "empty seat")
START_WORDS = ("违规开始", "VIOLATION STARTS")
ALARM = (48, 59, 255)  # BGR of #ff3b30
ALARM_ITEM = (0, 140, 255)  # BGR of #ff8c00: items stand apart from red person boxes
CUSTOMER = (220, 190, 150)  # BGR: a calm light blue for non-staff outside an intruder clip
ZONE_FILL_ALPHA = 0.28
PATCH_CACHE = 256  # rendered label boxes kept per frame size


def rule_label(focus: Focus, counts: dict[str, ZoneCount], cjk: bool) -> tuple[str, str]:
    """The big line and the small line of the banner, e.g. ("双人临柜 在岗 1/2", "Dual teller: 1/2 staff")."""
    zh, en = RULE_WORDS.get(focus.rule, (focus.rule, focus.rule.replace("_", " ")))
    seconds = f"{max(focus.elapsed_s, 0.0):.0f} s"
    if focus.rule == RuleType.dual_teller:
        have = counts.get(focus.zone, ZoneCount()).staff
        need = focus.min_staff if focus.min_staff is not None else 2
        big_zh, big_en = f"{zh} 在岗 {have}/{need}", f"{en}: {have}/{need} staff"
    elif focus.rule == RuleType.non_staff_in_area:
        big_zh, big_en = f"{zh} {seconds}", f"{en} {seconds}"
    else:
        big_zh, big_en = f"{zh} {seconds}", f"{en} {seconds}"
    if focus.phase == "pre":
        big_zh, big_en = f"违规前 {-focus.elapsed_s:.1f} s", f"{en}: starts in {-focus.elapsed_s:.1f} s"
        small = big_en
    elif focus.phase == "after":
        big_zh, big_en = f"{zh} 已解除", f"{en}: cleared"
        small = f"{en}: cleared {focus.elapsed_s:.1f} s ago"
    else:
        small = big_en
    if not cjk:
        return big_en, (small if small != big_en else f"zone {focus.zone}")
    return big_zh, small


class Renderer:
    """Draws overlays sized for one frame size, so that a phone showing the picture 335 px wide
    still reads them: text heights are fractions of the frame height, not fixed pixels.

    Shapes are drawn with OpenCV, text with Pillow (FreeType), in a CJK font where one is installed
    (``vision.evidence.fonts``); without one, labels are English only.
    """

    def __init__(self, width: int, height: int, fonts: FontSet | None = None) -> None:
        self.width, self.height = width, height
        self.fonts = fonts if fonts is not None else default_fonts()
        unit = max(height, 180)
        self.thickness = max(1, round(unit / 240))
        self.thin = max(1, round(unit / 480))
        self.big = max(12, round(unit * 0.075))  # the rule line: ~14 px tall at 335 px wide for 16:9
        self.small = max(10, round(unit * 0.05))
        self.tiny = max(9, round(unit * 0.04))
        self.padding = max(2, round(unit * 0.012))
        # kept for callers that size their own text like the overlay's
        self.text_scale = self.small / 30.0
        self._patches: dict[tuple[str, int, tuple[int, int, int], tuple[int, int, int]], np.ndarray] = {}
        self._heights: dict[tuple[int, bool], tuple[int, int]] = {}

    def draw(self, image: np.ndarray, overlay: Overlay, banner: Sequence[str] = (),
             ts: datetime | None = None, focus: Focus | None = None) -> np.ndarray:
        """A new annotated image; the input stays raw because the raw clip is encoded from it too."""
        scene = image.copy()
        texts: list[_Text] = []
        polys = {z.name: _poly(z.polygon) for z in overlay.zones}
        self._zones(scene, overlay, focus, polys, texts)
        if focus is not None and focus.phase == "active":
            self._empty_seats(scene, overlay, focus, polys, texts)
        self._persons(scene, overlay, focus, texts, polys.get(focus.zone) if focus is not None else None)
        self._items(scene, overlay, texts)
        # banner: the rule in big letters, then the English / timing line, then what the caller adds
        top = self.padding
        if focus is not None:
            top = self._focus_banner(scene, overlay, focus, top, texts)
        lines = list(banner)
        if focus is None:
            lines += [f"{r.name} {r.elapsed_s:.1f} s" for r in overlay.rules]
        for line in lines:
            texts.append(_Text(line, self.padding, top, self.small, (255, 255, 255), (0, 0, 0), fixed=True))
            top += self._line_height(line, self.small) + self.padding
        if ts is not None:
            stamp = ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            texts.append(_Text(stamp, self.padding, self.height - self.padding, self.tiny, (255, 255, 255),
                               (0, 0, 0), bottom=True, fixed=True))
        return self._draw_texts(scene, texts)

    def _zones(self, scene: np.ndarray, overlay: Overlay, focus: Focus | None,
               polys: dict[str, np.ndarray | None], texts: list[_Text]) -> None:
        """The offending zone filled red, the ones it refers to outlined and named, the others thin
        (and named only where no violation is in focus)."""
        relevant = {focus.zone, focus.attended_by} if focus is not None else set()
        for zone in overlay.zones:
            poly = polys[zone.name]
            if poly is None:
                continue
            color = ZONE_COLORS.get(zone.kind, ZONE_COLORS[ZoneKind.generic.value]).as_bgr()
            if focus is not None and zone.name == focus.zone:
                if focus.phase == "active":
                    _fill(scene, poly, ALARM, ZONE_FILL_ALPHA)
                cv2.polylines(scene, [poly], True, ALARM, self.thickness + 1, cv2.LINE_AA)
            elif zone.name in relevant:
                cv2.polylines(scene, [poly], True, color, self.thickness, cv2.LINE_AA)
                x, y = int(poly[:, 0].min()), int(poly[:, 1].min())
                texts.append(_Text(zone.name, x + self.padding, y + self.padding, self.tiny, (0, 0, 0), color))
            elif focus is None:
                cv2.polylines(scene, [poly], True, color, self.thin, cv2.LINE_AA)
                x, y = int(poly[:, 0].max()), int(poly[:, 1].min())
                texts.append(_Text(zone.name, x, y + self.padding, self.tiny, (0, 0, 0), color, right=True))
            else:
                cv2.polylines(scene, [poly], True, color, self.thin, cv2.LINE_AA)

    def _focus_banner(self, scene: np.ndarray, overlay: Overlay, focus: Focus, top: int, texts: list[_Text]) -> int:
        """The rule in big letters and its English / timing line; a red frame in its first second.
        Returns where the next banner line goes."""
        cjk = self.fonts.cjk
        big, small = rule_label(focus, overlay.counts, cjk)
        bg = ALARM if focus.phase == "active" else (60, 60, 60)
        texts.append(_Text(big, self.padding, top, self.big, (255, 255, 255), bg, fixed=True))
        top += self._line_height(big, self.big) + self.padding
        texts.append(_Text(small, self.padding, top, self.small, (255, 255, 255), (0, 0, 0), fixed=True))
        top += self._line_height(small, self.small) + self.padding
        if focus.phase == "active" and focus.elapsed_s < 1.0:
            # the violation's first second: a red frame round the picture and a word saying so
            edge = max(4, round(self.height * 0.02))
            cv2.rectangle(scene, (0, 0), (self.width - 1, self.height - 1), ALARM, edge)
            word = f"{START_WORDS[0]} {START_WORDS[1]}" if cjk else START_WORDS[1]
            texts.append(_Text(word, self.width - self.padding - edge, edge + self.padding, self.big,
                               (255, 255, 255), ALARM, right=True, fixed=True))
        return top

    # ------------------------------------------------------------------ parts

    def _empty_seats(self, scene: np.ndarray, overlay: Overlay, focus: Focus,
                     polys: dict[str, np.ndarray | None], texts: list[_Text]) -> None:
        """Seats with no staff: the rule's ``attended_by`` zone, or (dual teller) every other
        teller-area zone inside the offending zone; marked with a dashed outline and 空位."""
        seats: list[str] = []
        if focus.attended_by:
            seats.append(focus.attended_by)
        elif focus.rule == RuleType.dual_teller:
            outer = polys.get(focus.zone)
            for z in overlay.zones:
                poly = polys.get(z.name)
                if z.name == focus.zone or z.kind != ZoneKind.teller_area.value or poly is None or outer is None:
                    continue
                cx, cy = float(poly[:, 0].mean()), float(poly[:, 1].mean())
                if cv2.pointPolygonTest(outer.astype(np.float32), (cx, cy), False) >= 0:
                    seats.append(z.name)
        word = f"{EMPTY_SEAT_WORDS[0]} {EMPTY_SEAT_WORDS[1]}" if self.fonts.cjk else EMPTY_SEAT_WORDS[1]
        for name in seats:
            poly = polys.get(name)
            count = overlay.counts.get(name)
            if poly is None or count is None or count.staff > 0:
                continue
            x0, y0 = int(poly[:, 0].min()), int(poly[:, 1].min())
            x1, y1 = int(poly[:, 0].max()), int(poly[:, 1].max())
            _dashed_rect(scene, (x0, y0), (x1, y1), (255, 255, 255), self.thickness + 1,
                         max(6, round(self.height * 0.03)))
            texts.append(_Text(word, (x0 + x1) // 2, (y0 + y1) // 2, self.small, (255, 255, 255), (40, 40, 40),
                               center=True))

    def _persons(self, scene: np.ndarray, overlay: Overlay, focus: Focus | None, texts: list[_Text],
                 zone: np.ndarray | None) -> None:
        persons = overlay.persons
        if not len(persons):
            return
        roles = _roles(persons)
        # red means alarm: non-staff are red (and labelled) in clips about intruders, or where no
        # violation is in focus; in a dual-teller or cash clip a customer in the hall is just a person
        intruders = focus is None or focus.rule == RuleType.non_staff_in_area
        colors = {_STAFF: STAFF_COLOR.as_bgr(), _NON_STAFF: ALARM if intruders else CUSTOMER,
                  _UNDECIDED: UNDECIDED_COLOR.as_bgr()}
        big = focus is not None and focus.rule == RuleType.non_staff_in_area and focus.phase == "active"
        word = NON_STAFF_WORDS[0] if self.fonts.cjk else NON_STAFF_WORDS[1]
        for i, box in enumerate(np.asarray(persons.xyxy)):
            x0, y0, x1, y1 = (int(round(float(v))) for v in box)
            role = int(roles[i])
            alarm = role == _NON_STAFF and intruders
            if alarm and focus is not None and zone is not None:  # only those inside the zone intrude
                alarm = cv2.pointPolygonTest(zone.astype(np.float32), ((x0 + x1) / 2, (y0 + y1) / 2), False) >= 0
            color = colors[role] if alarm or role != _NON_STAFF else CUSTOMER
            thick = self.thickness + (1 if alarm else 0)
            cv2.rectangle(scene, (x0, y0), (x1, y1), color, thick, cv2.LINE_AA)
            if alarm:
                texts.append(_Text(word, x0, y0, self.big if big else self.small, (255, 255, 255), ALARM, above=True))
            elif focus is None and len(overlay.labels) == len(persons):
                texts.append(_Text(overlay.labels[i], x0, y0, self.tiny, (0, 0, 0), color, above=True))
        # a dot at every point of a box that the zones test (box centre, bottom centre), so a
        # reviewer sees why a person is or is not in a zone
        radius = self.thickness + 2
        for position in self._anchor_positions(overlay.zones):
            for x, y in persons.get_anchors_coordinates(position):
                centre = (int(round(float(x))), int(round(float(y))))
                cv2.circle(scene, centre, radius + 1, (0, 0, 0), -1, cv2.LINE_AA)
                cv2.circle(scene, centre, radius, (255, 255, 255), -1, cv2.LINE_AA)

    def _items(self, scene: np.ndarray, overlay: Overlay, texts: list[_Text]) -> None:
        items = overlay.items
        if not len(items):
            return
        labels = list(overlay.item_labels) if len(overlay.item_labels) == len(items) else ["item"] * len(items)
        for box, label in zip(np.asarray(items.xyxy), labels, strict=True):
            x0, y0, x1, y1 = (int(round(float(v))) for v in box)
            _fill(scene, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), ALARM_ITEM, 0.35)
            cv2.rectangle(scene, (x0, y0), (x1, y1), ALARM_ITEM, self.thickness + 1, cv2.LINE_AA)
            word = label.split(" @")[0]
            if self.fonts.cjk and word == "item":
                word = "物品 item"
            texts.append(_Text(word, x0, y1, self.tiny, (0, 0, 0), ALARM_ITEM))

    # ------------------------------------------------------------------ text

    def _metrics(self, text: str, size: int) -> tuple[int, int]:
        """(top of the glyphs, height of the box) for a label: one per size and script, so that
        boxes of a banner line up whatever letters they hold, and layout needs no FreeType call."""
        key = (size, text.isascii())
        metrics = self._heights.get(key)
        if metrics is None:
            box = self.fonts.at(size).getbbox("Agjy" if text.isascii() else "Agjy双人")
            top = int(min(box[1], 0))
            metrics = self._heights[key] = (top, int(box[3]) - top + 2 * self.padding)
        return metrics

    def _line_height(self, text: str, size: int) -> int:
        return self._metrics(text, size)[1]

    def _patch(self, text: str, size: int, color: tuple[int, int, int],
               background: tuple[int, int, int]) -> np.ndarray:
        """One label box as BGR pixels. Cached: most labels repeat from frame to frame, and
        FreeType rendering of CJK glyphs is the costliest part of an annotated frame."""
        key = (text, size, color, background)
        patch = self._patches.get(key)
        if patch is None:
            font = self.fonts.at(size)
            pad = self.padding
            left, _, right, _ = font.getbbox(text or " ")
            top, height = self._metrics(text, size)
            img = Image.new("RGB", (int(right - left + 2 * pad), height), _rgb(background))
            ImageDraw.Draw(img).text((pad - left, pad - top), text, font=font, fill=_rgb(color))
            patch = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
            if len(self._patches) >= PATCH_CACHE:
                self._patches.pop(next(iter(self._patches)))
            self._patches[key] = patch
        return patch

    def _draw_texts(self, scene: np.ndarray, texts: list[_Text]) -> np.ndarray:
        if not texts:
            return scene
        h, w = scene.shape[:2]
        pad = self.padding
        placed: list[tuple[_Text, np.ndarray, int, int]] = []
        for t in texts:
            patch = self._patch(t.text, t.size, t.color, t.background)
            bh, bw = patch.shape[:2]
            x = t.x - bw if t.right else t.x - bw // 2 if t.center else t.x
            y = t.y - bh if (t.above or t.bottom) else t.y - bh // 2 if t.center else t.y
            x = min(max(0, x), max(0, w - bw))
            y = min(max(0, y), max(0, h - bh))
            placed.append((t, patch, int(x), int(y)))
        # labels of boxes and zones move out from under the banner (the rule line, the time), which
        # is drawn last, on top, and must stay whole
        fixed = [(x, y, x + p.shape[1], y + p.shape[0]) for t, p, x, y in placed if t.fixed]
        for k, (t, patch, x, y) in enumerate(placed):
            if t.fixed:
                continue
            bh, bw = patch.shape[:2]
            for fx0, fy0, fx1, fy1 in fixed:
                if x < fx1 and fx0 < x + bw and y < fy1 and fy0 < y + bh:
                    y = fy1 + pad if fy0 < h / 2 else fy0 - bh - pad
            placed[k] = (t, patch, x, int(min(max(0, y), max(0, h - bh))))
        placed.sort(key=lambda p: p[0].fixed)
        for _, patch, x, y in placed:
            ph, pw = min(patch.shape[0], h - y), min(patch.shape[1], w - x)
            if ph > 0 and pw > 0:
                scene[y:y + ph, x:x + pw] = patch[:ph, :pw]
        return scene

    @staticmethod
    def _anchor_positions(zones: Sequence[ZoneOverlay]) -> list[sv.Position]:
        seen: list[sv.Position] = []
        for zone in zones:
            for position in anchor_positions(zone.anchor):
                if position not in seen:
                    seen.append(position)
        return seen


@dataclass(frozen=True, slots=True)
class _Text:
    """A label box; (x, y) is its top-left corner unless ``right`` / ``center`` / ``above`` /
    ``bottom`` say the point is its top-right, centre, bottom-left or bottom-left corner."""

    text: str
    x: int
    y: int
    size: int
    color: tuple[int, int, int]  # BGR
    background: tuple[int, int, int]  # BGR
    right: bool = False
    center: bool = False
    above: bool = False
    bottom: bool = False
    fixed: bool = False  # the banner: drawn last, other labels move out of its way


def _rgb(bgr: tuple[int, int, int]) -> tuple[int, int, int]:
    return (int(bgr[2]), int(bgr[1]), int(bgr[0]))


def _poly(polygon: np.ndarray) -> np.ndarray | None:
    poly = np.round(np.asarray(polygon, dtype=np.float64)).astype(np.int32)
    if poly.ndim != 2 or poly.shape[0] < 3 or poly.shape[1] != 2:
        return None
    return poly


def _fill(scene: np.ndarray, poly: np.ndarray, color: tuple[int, int, int], alpha: float) -> None:
    """Blend ``color`` into the polygon's pixels only (a whole-frame blend would cost 3x more)."""
    h, w = scene.shape[:2]
    x0, y0 = max(0, int(poly[:, 0].min())), max(0, int(poly[:, 1].min()))
    x1, y1 = min(w, int(poly[:, 0].max()) + 1), min(h, int(poly[:, 1].max()) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    roi = scene[y0:y1, x0:x1]
    mask = np.zeros(roi.shape[:2], np.uint8)
    cv2.fillPoly(mask, [(poly - [x0, y0]).astype(np.int32)], 255)
    tint = cv2.convertScaleAbs(roi, alpha=1.0 - alpha)
    shift = np.array([float(c) * alpha for c in color] + [0.0])
    blended = cv2.add(tint, shift)
    cv2.copyTo(blended, mask, roi)  # in place: roi is a view of the scene


def _dashed_rect(scene: np.ndarray, p0: tuple[int, int], p1: tuple[int, int], color: tuple[int, int, int],
                 thickness: int, dash: int) -> None:
    (x0, y0), (x1, y1) = p0, p1
    for a, b in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))):
        length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
        steps = max(1, length // dash)
        for k in range(0, steps, 2):
            s0, s1 = k / steps, min(1.0, (k + 1) / steps)
            q0 = (round(a[0] + (b[0] - a[0]) * s0), round(a[1] + (b[1] - a[1]) * s0))
            q1 = (round(a[0] + (b[0] - a[0]) * s1), round(a[1] + (b[1] - a[1]) * s1))
            cv2.line(scene, q0, q1, color, thickness, cv2.LINE_AA)
