"""Zone membership: the anchor per zone kind decides who is inside."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from vision.config import ZoneConfig
from vision.zones import ZoneSet, anchor_for, scale_polygon


def zone(kind: str, anchor: str | None = None) -> ZoneConfig:
    return ZoneConfig(name=f"z_{kind}", kind=kind, polygon=[(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)],
                      anchor=anchor)


# a 100x100 frame; the zone is the lower half. A seated teller: box 40..60 x 30..80 (centre y=55,
# feet hidden, bottom y=80). A standing person above the line: 40..60 x 10..45.
SEATED = [40, 30, 60, 80]
ABOVE = [40, 10, 60, 45]
FEET_IN = [40, 20, 60, 70]  # centre y=45 (outside), bottom y=70 (inside)


@pytest.mark.parametrize(
    ("kind", "anchor", "box", "inside"),
    [
        ("teller_area", None, SEATED, True),
        ("teller_area", None, ABOVE, False),
        ("teller_area", None, FEET_IN, False),  # centre anchor: the torso must be in the area
        ("door", None, FEET_IN, True),  # bottom centre: the feet decide
        ("customer_area", None, ABOVE, False),
        ("generic", "center", FEET_IN, False),
        ("teller_area", "bottom_center", FEET_IN, True),
    ],
)
def test_anchor_per_kind(kind, anchor, box, inside) -> None:
    zs = ZoneSet([zone(kind, anchor)], 100, 100)
    dets = sv.Detections(xyxy=np.array([box], dtype=float), class_id=np.array([0]))
    assert zs.memberships(dets) == [frozenset({f"z_{kind}"}) if inside else frozenset()]


def test_default_anchors() -> None:
    assert anchor_for(zone("teller_area")) == "center"
    assert anchor_for(zone("door")) == "bottom_center"


def test_scale_polygon_shape_check() -> None:
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        scale_polygon(np.zeros((4, 3)), 10, 10)
    px = scale_polygon(np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.0]]), 641, 361)
    assert px.tolist() == [[0, 0], [640, 360], [320, 0]]


def test_empty_detections() -> None:
    zs = ZoneSet([zone("teller_area")], 100, 100)
    assert zs.memberships(sv.Detections.empty()) == []
