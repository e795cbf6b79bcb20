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

from vision.config import CameraConfig, ZoneKind
from vision.observations import Observation
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
_ROLE_PALETTE = sv.ColorPalette([STAFF_COLOR, NON_STAFF_COLOR, UNDECIDED_COLOR])
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
    """A rule whose condition currently holds, and for how long it has held."""

    name: str
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class Overlay:
    """What to draw on one frame; every coordinate is in pixels of that frame.

    ``persons`` carries ``tracker_id`` and, where identity is known, ``data["is_staff"]`` (an object
    array of True / False / None) which picks the box colour; ``labels`` holds one text per person
    box (``"#3 staff"``). Items are drawn in one colour with ``item_labels``.
    """

    zones: tuple[ZoneOverlay, ...] = ()
    persons: sv.Detections = field(default_factory=sv.Detections.empty)
    labels: tuple[str, ...] = ()
    items: sv.Detections = field(default_factory=sv.Detections.empty)
    item_labels: tuple[str, ...] = ()
    rules: tuple[RuleOverlay, ...] = ()

    @classmethod
    def from_observation(
        cls,
        camera: CameraConfig,
        observation: Observation,
        width: int,
        height: int,
        rules: Sequence[RuleOverlay] = (),
    ) -> Overlay:
        """Build the overlay from what the rules saw, so the pipeline needs no drawing code.

        Track and item boxes in the observation are taken to be in pixels of the frame.
        """
        zones = zones_in_pixels(camera, width, height)
        tracks = observation.tracks
        if tracks:
            xyxy = np.asarray([t.xyxy for t in tracks], dtype=np.float32)
            persons = sv.Detections(
                xyxy=xyxy,
                confidence=np.asarray([t.confidence for t in tracks], dtype=np.float32),
                class_id=np.zeros(len(tracks), dtype=int),
                tracker_id=np.asarray([t.track_id for t in tracks], dtype=int),
                data={"is_staff": np.asarray([t.is_staff for t in tracks], dtype=object)},
            )
            labels = tuple(f"#{t.track_id} {_role_word(t.is_staff)}" for t in tracks)
        else:
            persons, labels = sv.Detections.empty(), ()
        seen: dict[int, tuple[tuple[float, float, float, float], str]] = {}
        for zone in observation.zones.values():
            for item in zone.items:
                seen[item.item_id] = (item.xyxy, f"{item.label} @{zone.name}")
        if seen:
            items = sv.Detections(
                xyxy=np.asarray([box for box, _ in seen.values()], dtype=np.float32),
                class_id=np.zeros(len(seen), dtype=int),
                tracker_id=np.asarray(list(seen), dtype=int),
            )
            item_labels = tuple(label for _, label in seen.values())
        else:
            items, item_labels = sv.Detections.empty(), ()
        return cls(zones, persons, labels, items, item_labels, tuple(rules))

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


class Renderer:
    """Draws overlays with supervision annotators sized for one frame size.

    Annotators are built once per frame size because text scale and line width follow the frame
    height: a 1080p clip needs thicker lines than a 360p one to stay readable in a browser.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        unit = max(height, 240) / 720.0
        self.thickness = max(1, round(2 * unit))
        self.text_scale = max(0.4, 0.5 * unit)  # below 0.4 Hershey text is unreadable in a browser
        self.text_thickness = max(1, round(unit))
        self.padding = max(3, round(6 * unit))
        self._boxes = sv.BoxAnnotator(color=_ROLE_PALETTE, thickness=self.thickness,
                                      color_lookup=sv.ColorLookup.CLASS)
        self._labels = sv.LabelAnnotator(color=_ROLE_PALETTE, text_color=sv.Color.BLACK,
                                         text_scale=self.text_scale, text_thickness=self.text_thickness,
                                         text_padding=self.padding, color_lookup=sv.ColorLookup.CLASS)
        self._item_boxes = sv.BoxAnnotator(color=ITEM_COLOR, thickness=self.thickness,
                                           color_lookup=sv.ColorLookup.INDEX)
        self._item_labels = sv.LabelAnnotator(color=ITEM_COLOR, text_color=sv.Color.BLACK,
                                              text_scale=self.text_scale, text_thickness=self.text_thickness,
                                              text_padding=self.padding, color_lookup=sv.ColorLookup.INDEX,
                                              text_position=sv.Position.BOTTOM_LEFT)

    def draw(self, image: np.ndarray, overlay: Overlay, banner: Sequence[str] = (),
             ts: datetime | None = None) -> np.ndarray:
        """A new annotated image; the input stays raw because the raw clip is encoded from it too."""
        scene = image.copy()
        for zone in overlay.zones:
            poly = np.round(np.asarray(zone.polygon)).astype(np.int64)
            if poly.ndim != 2 or poly.shape[0] < 3 or poly.shape[1] != 2:
                continue
            color = ZONE_COLORS.get(zone.kind, ZONE_COLORS[ZoneKind.generic.value])
            sv.draw_polygon(scene, poly, color=color, thickness=self.thickness)
            # top-right of the zone's box: the banner takes the frame's top-left corner
            self._text(scene, zone.name, int(poly[:, 0].max()), int(poly[:, 1].min()) + self.padding,
                       sv.Color.BLACK, color, align_right=True)
        persons = overlay.persons
        if len(persons):
            colored = sv.Detections(xyxy=persons.xyxy, class_id=_roles(persons),
                                    tracker_id=persons.tracker_id)
            if len(overlay.labels) == len(persons):
                labels = list(overlay.labels)
            elif persons.tracker_id is not None:
                labels = [f"#{tid}" for tid in persons.tracker_id]
            else:
                labels = ["person"] * len(persons)
            self._boxes.annotate(scene, colored)
            self._labels.annotate(scene, colored, labels=labels)
            # a dot on each box at every point the zones test (box centre, bottom centre), so a
            # reviewer sees why a person is or is not in a zone
            for position in self._anchor_positions(overlay.zones):
                sv.DotAnnotator(color=_ROLE_PALETTE, radius=self.thickness + 2, position=position,
                                color_lookup=sv.ColorLookup.CLASS, outline_thickness=1,
                                outline_color=sv.Color.BLACK).annotate(scene, colored)
        items = overlay.items
        if len(items):
            self._item_boxes.annotate(scene, items)
            labels = list(overlay.item_labels)
            if len(labels) != len(items):
                labels = ["item"] * len(items)
            self._item_labels.annotate(scene, items, labels=labels)
        lines = list(banner) + [f"{r.name} {r.elapsed_s:.1f} s" for r in overlay.rules]
        if ts is not None:
            lines.append(ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3])
        self._banner(scene, lines)
        return scene

    @staticmethod
    def _anchor_positions(zones: Sequence[ZoneOverlay]) -> list[sv.Position]:
        seen: list[sv.Position] = []
        for zone in zones:
            for position in anchor_positions(zone.anchor):
                if position not in seen:
                    seen.append(position)
        return seen

    def _banner(self, scene: np.ndarray, lines: Sequence[str]) -> None:
        y = self.padding
        for text in lines:
            y = self._text(scene, text, self.padding, y, sv.Color.WHITE, sv.Color.BLACK) + 2

    def _text(self, scene: np.ndarray, text: str, x: int, y: int, color: sv.Color, background: sv.Color,
              align_right: bool = False) -> int:
        """Draw a text box with its top-left (or top-right) corner at (x, y), kept inside the frame.

        sv.draw_text centres its box on the anchor, so the box is measured first; returns its bottom.
        """
        pad = self.padding // 2
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, self.text_scale, self.text_thickness)
        box_w, box_h = w + 2 * pad, h + base + 2 * pad
        left = x - box_w if align_right else x
        left = min(max(0, left), max(0, scene.shape[1] - box_w))
        top = min(max(0, y), max(0, scene.shape[0] - box_h))
        sv.draw_text(scene, text, sv.Point(left + box_w // 2, top + box_h // 2), text_color=color,
                     text_scale=self.text_scale, text_thickness=self.text_thickness, text_padding=pad,
                     background_color=background)
        return top + box_h
