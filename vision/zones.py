"""Zones in pixels and which people stand in them.

Polygons arrive normalised from the config and are scaled once per frame size into
``supervision.PolygonZone`` objects. The point of a person's box that must lie inside depends on
the zone kind. A seated teller behind a counter shows no feet (a high corner camera sees head and
torso above the desk), while users draw teller rooms on the floor, where a standing person's torso
is above the drawn area: teller areas and counters count a person whose box centre *or* bottom
centre is inside (``center_or_bottom``; measured with ``benchmarks/accuracy.py``: the centre alone
misses a standing person in a floor-drawn teller area, the bottom centre alone misses seated
tellers and flags customers). Floor zones (door, customer area, generic) test the bottom centre,
where a standing person's feet are. A zone's ``anchor`` in the config overrides the default.

Zones at the frame's edge: a polygon point of 0 or 1 lands on the first or last pixel row/column,
while a box clipped by the frame ends one past the last pixel (x = w, y = h). Anchors are clamped
into the picture before the polygon test, so a person whose feet leave the bottom of the frame is
still inside a floor zone that reaches y = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import supervision as sv

from vision.config import ZoneConfig, ZoneKind
from vision.observations import ZONES, column

DEFAULT_ANCHOR: dict[ZoneKind, str] = {
    ZoneKind.teller_area: "center_or_bottom",
    ZoneKind.counter: "center_or_bottom",
    ZoneKind.customer_area: "bottom_center",
    ZoneKind.door: "bottom_center",
    ZoneKind.generic: "bottom_center",
}

#: anchor name -> the box points tested; any one of them inside puts the person in the zone
_POSITIONS: dict[str, tuple[sv.Position, ...]] = {
    "center": (sv.Position.CENTER,),
    "bottom_center": (sv.Position.BOTTOM_CENTER,),
    "top_center": (sv.Position.TOP_CENTER,),
    "center_or_bottom": (sv.Position.CENTER, sv.Position.BOTTOM_CENTER),
}
ANCHORS = tuple(_POSITIONS)


def anchor_for(zone: ZoneConfig) -> str:
    return zone.anchor or DEFAULT_ANCHOR[zone.kind]


def anchor_positions(zone: ZoneConfig | str) -> tuple[sv.Position, ...]:
    """The box points tested for ``zone`` or an anchor name (any one inside counts)."""
    return _POSITIONS[zone if isinstance(zone, str) else anchor_for(zone)]


@dataclass(frozen=True, slots=True)
class PixelZone:
    config: ZoneConfig
    polygon: np.ndarray  # (N, 2) int32 pixels
    polygon_zone: sv.PolygonZone

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def kind(self) -> ZoneKind:
        return self.config.kind

    def contains(self, detections: sv.Detections) -> np.ndarray:
        """Boolean mask over ``detections``: which anchors lie inside the polygon."""
        if len(detections) == 0:
            return np.zeros(0, dtype=bool)
        return np.asarray(self.polygon_zone.trigger(detections), dtype=bool)

    def mask(self, width: int, height: int) -> np.ndarray:
        import cv2

        m = np.zeros((height, width), dtype=np.uint8)
        cv2.fillPoly(m, [self.polygon], 255)
        return m


def scale_polygon(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Normalised (N, 2) points -> int32 pixel points, clipped to the frame."""
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"polygon must have shape (N, 2), got {points.shape}")
    px = np.round(points * np.array([width - 1, height - 1], dtype=np.float64))
    return px.astype(np.int32)


class ZoneSet:
    """All zones of one camera at one frame size."""

    def __init__(self, zones: list[ZoneConfig], width: int, height: int) -> None:
        self.width, self.height = width, height
        self.zones: list[PixelZone] = []
        for z in zones:
            poly = scale_polygon(z.points, width, height)
            pz = sv.PolygonZone(polygon=poly, triggering_anchors=anchor_positions(z), require_all_anchors=False)
            self.zones.append(PixelZone(config=z, polygon=poly, polygon_zone=pz))

    def __iter__(self):
        return iter(self.zones)

    def region(self, margin: float = 0.15, max_share: float = 0.8) -> tuple[int, int, int, int] | None:
        """The zones' bounding box grown by ``margin`` (a fraction of the frame) on every side, as
        pixel (x0, y0, x1, y1); None where it covers more than ``max_share`` of the frame (cropping
        would save the detector next to nothing) or there are no zones.

        The margin lets a person whose box centre is near a zone's edge be seen whole, so their box
        (and its anchor) is the same as on the full frame. A zone that tests the bottom centre (a
        floor zone) holds people's feet, and their bodies stand above it: the region then reaches
        the top of the frame.
        """
        if not self.zones:
            return None
        pts = np.concatenate([z.polygon for z in self.zones]).astype(np.float64)
        mx, my = margin * self.width, margin * self.height
        feet = any(sv.Position.BOTTOM_CENTER in z.polygon_zone.triggering_anchors for z in self.zones)
        x0, y0 = max(0, int(pts[:, 0].min() - mx)), 0 if feet else max(0, int(pts[:, 1].min() - my))
        x1 = min(self.width, int(np.ceil(pts[:, 0].max() + 1 + mx)))
        y1 = min(self.height, int(np.ceil(pts[:, 1].max() + 1 + my)))
        if (x1 - x0) * (y1 - y0) > max_share * self.width * self.height:
            return None
        return x0, y0, x1, y1

    def by_name(self, name: str) -> PixelZone:
        for z in self.zones:
            if z.name == name:
                return z
        raise KeyError(name)

    def in_frame(self, detections: sv.Detections) -> sv.Detections:
        """``detections`` with boxes clamped to the last pixel row and column.

        Detectors clip boxes to [0, w] x [0, h]; the polygon of a zone reaching 1.0 ends at w - 1 /
        h - 1. Clamping moves an edge anchor by under one pixel and only for boxes at the edge.
        """
        if len(detections) == 0:
            return detections
        clamped = sv.Detections(xyxy=np.asarray(detections.xyxy, dtype=np.float64).copy())
        clamped.xyxy[:, [0, 2]] = np.clip(clamped.xyxy[:, [0, 2]], 0, self.width - 1)
        clamped.xyxy[:, [1, 3]] = np.clip(clamped.xyxy[:, [1, 3]], 0, self.height - 1)
        return clamped

    def annotate(self, detections: sv.Detections) -> sv.Detections:
        """The zones stage: ``detections`` with ``data["zones"]`` (the zone names of each box) added."""
        detections.data[ZONES] = column(self.memberships(detections))
        return detections

    def memberships(self, detections: sv.Detections) -> list[frozenset[str]]:
        """For each detection, the names of the zones it is in."""
        n = len(detections)
        boxes = self.in_frame(detections)
        inside = {z.name: z.contains(boxes) for z in self.zones}
        return [frozenset(name for name, mask in inside.items() if mask[i]) for i in range(n)]
