"""Zones in pixels and which people stand in them.

Polygons arrive normalised from the config and are scaled once per frame size into
``supervision.PolygonZone`` objects. The point of a person's box that must lie inside depends on
the zone kind: a seated teller behind a counter shows no feet, and a high corner camera sees the
teller's head and torso above the desk, so teller areas and counters test the box centre; floor
zones (door, customer area, generic) test the bottom centre, where a standing person's feet are.
A zone's ``anchor`` in the config overrides the default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import supervision as sv

from vision.config import ZoneConfig, ZoneKind

DEFAULT_ANCHOR: dict[ZoneKind, str] = {
    ZoneKind.teller_area: "center",
    ZoneKind.counter: "center",
    ZoneKind.customer_area: "bottom_center",
    ZoneKind.door: "bottom_center",
    ZoneKind.generic: "bottom_center",
}

_POSITIONS = {
    "center": sv.Position.CENTER,
    "bottom_center": sv.Position.BOTTOM_CENTER,
    "top_center": sv.Position.TOP_CENTER,
}


def anchor_for(zone: ZoneConfig) -> str:
    return zone.anchor or DEFAULT_ANCHOR[zone.kind]


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
            pz = sv.PolygonZone(polygon=poly, triggering_anchors=(_POSITIONS[anchor_for(z)],))
            self.zones.append(PixelZone(config=z, polygon=poly, polygon_zone=pz))

    def __iter__(self):
        return iter(self.zones)

    def by_name(self, name: str) -> PixelZone:
        for z in self.zones:
            if z.name == name:
                return z
        raise KeyError(name)

    def memberships(self, detections: sv.Detections) -> list[frozenset[str]]:
        """For each detection, the names of the zones it is in."""
        n = len(detections)
        inside = {z.name: z.contains(detections) for z in self.zones}
        return [frozenset(name for name, mask in inside.items() if mask[i]) for i in range(n)]
