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
        ("teller_area", None, FEET_IN, True),  # centre or bottom centre: feet on a floor-drawn teller area
        ("teller_area", "center", FEET_IN, False),  # centre anchor: the torso must be in the area
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
    assert anchor_for(zone("teller_area")) == "center_or_bottom"
    assert anchor_for(zone("counter")) == "center_or_bottom"
    assert anchor_for(zone("door")) == "bottom_center"


def test_scale_polygon_shape_check() -> None:
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        scale_polygon(np.zeros((4, 3)), 10, 10)
    px = scale_polygon(np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.0]]), 641, 361)
    assert px.tolist() == [[0, 0], [640, 360], [320, 0]]


def test_empty_detections() -> None:
    zs = ZoneSet([zone("teller_area")], 100, 100)
    assert zs.memberships(sv.Detections.empty()) == []


# --------------------------------------------------------------------------- frame's edge


def floor_zone(polygon, kind: str = "customer_area", anchor: str | None = None) -> ZoneConfig:
    return ZoneConfig(name="floor", kind=kind, polygon=polygon, anchor=anchor)


@pytest.mark.parametrize(("w", "h"), [(100, 100), (640, 360), (480, 270)])
def test_feet_clipped_at_bottom_edge_are_in_a_zone_reaching_y_1(w, h) -> None:
    """Detectors clip boxes to y = h; the zone's last row is h - 1: the anchor must still count."""
    zs = ZoneSet([floor_zone([(0.0, 0.6), (1.0, 0.6), (1.0, 1.0), (0.0, 1.0)])], w, h)
    clipped = sv.Detections(xyxy=np.array([[0.4 * w, 0.3 * h, 0.6 * w, float(h)]]), class_id=np.array([0]))
    touching_last_row = sv.Detections(xyxy=np.array([[0.4 * w, 0.3 * h, 0.6 * w, h - 1.0]]), class_id=np.array([0]))
    assert zs.memberships(clipped) == [frozenset({"floor"})]
    assert zs.memberships(touching_last_row) == [frozenset({"floor"})]


@pytest.mark.parametrize(
    ("polygon", "box"),
    [
        ([(0.0, 0.0), (0.3, 0.0), (0.3, 1.0), (0.0, 1.0)], [0.0, 20.0, 0.0, 60.0]),  # left edge, zero width box
        ([(0.7, 0.0), (1.0, 0.0), (1.0, 1.0), (0.7, 1.0)], [90.0, 20.0, 100.0, 60.0]),  # right edge, clipped box
        ([(0.7, 0.0), (1.0, 0.0), (1.0, 1.0), (0.7, 1.0)], [100.0, 20.0, 100.0, 60.0]),  # on the right edge itself
    ],
)
def test_boxes_at_the_side_edges(polygon, box) -> None:
    zs = ZoneSet([floor_zone(polygon, kind="generic")], 100, 100)
    dets = sv.Detections(xyxy=np.array([box]), class_id=np.array([0]))
    assert zs.memberships(dets) == [frozenset({"floor"})]


def test_edge_clamp_does_not_pull_in_boxes_beside_a_zone_short_of_the_edge() -> None:
    """A zone ending at y = 0.9 still excludes feet at the bottom edge: only 0 and 1 reach the edge."""
    zs = ZoneSet([floor_zone([(0.0, 0.6), (1.0, 0.6), (1.0, 0.9), (0.0, 0.9)])], 100, 100)
    dets = sv.Detections(xyxy=np.array([[40.0, 30.0, 60.0, 100.0]]), class_id=np.array([0]))
    assert zs.memberships(dets) == [frozenset()]


def test_center_or_bottom_counts_either_point() -> None:
    """The combined anchor: a seated teller (centre in, feet hidden below) and a standing person
    whose torso is above the drawn floor area (feet in) are both inside."""
    zs = ZoneSet([zone("teller_area", "center_or_bottom")], 100, 100)
    dets = sv.Detections(xyxy=np.array([SEATED, FEET_IN, ABOVE], dtype=float), class_id=np.array([0, 0, 0]))
    assert zs.memberships(dets) == [frozenset({"z_teller_area"})] * 2 + [frozenset()]


# --------------------------------------------------------------------------- detector region


def test_region_of_centre_zones_is_their_box_with_a_margin() -> None:
    desk = ZoneConfig(name="desk", kind="teller_area", anchor="center",
                      polygon=[(0.4, 0.4), (0.6, 0.4), (0.6, 0.6), (0.4, 0.6)])
    assert ZoneSet([desk], 200, 100).region(margin=0.1) == (60, 30, 140, 70)


def test_region_reaches_the_top_for_floor_zones_and_is_none_when_it_would_cover_the_frame() -> None:
    floor = ZoneConfig(name="floor", kind="door", polygon=[(0.4, 0.7), (0.6, 0.7), (0.6, 0.9), (0.4, 0.9)])
    assert ZoneSet([floor], 200, 100).region(margin=0.1) == (60, 0, 140, 100)
    assert ZoneSet([zone("teller_area", "center")], 200, 100).region() == (0, 35, 200, 100)  # 65% of the frame
    room = ZoneConfig(name="room", kind="teller_area", polygon=[(0.0, 0.2), (1.0, 0.2), (1.0, 1.0), (0.0, 1.0)])
    assert ZoneSet([room], 200, 100).region() is None  # 95% of the frame: no crop
    assert ZoneSet([], 200, 100).region() is None
