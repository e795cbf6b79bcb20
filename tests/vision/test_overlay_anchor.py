"""Annotated frames mark the point of each person box that the zones test."""

from __future__ import annotations

import numpy as np
import supervision as sv

from vision.evidence.overlay import Overlay, Renderer, ZoneOverlay

BOX = (100.0, 40.0, 160.0, 200.0)  # centre (130, 120), bottom centre (130, 200): a dot is 3x3 or more


def render(anchor: str) -> np.ndarray:
    zone = ZoneOverlay("z", "teller_area", np.array([[0, 0], [300, 0], [300, 230], [0, 230]], float), anchor)
    persons = sv.Detections(xyxy=np.array([BOX]), tracker_id=np.array([1]),
                            data={"is_staff": np.array([True], dtype=object)})
    overlay = Overlay(zones=(zone,), persons=persons, labels=("#1 staff",))
    return Renderer(320, 240).draw(np.full((240, 320, 3), 90, np.uint8), overlay)


def marked(image: np.ndarray, x: int, y: int) -> bool:
    """A filled dot (not just the 1-2 px box outline) around (x, y)."""
    patch = image[y - 1 : y + 2, x - 1 : x + 2].astype(int)
    return bool((np.abs(patch - 90).max(axis=2) > 40).all())


def test_centre_anchor_is_marked_at_the_box_centre_only() -> None:
    img = render("center")
    assert marked(img, 130, 120)
    assert not marked(img, 130, 200)


def test_combined_anchor_marks_both_points() -> None:
    img = render("center_or_bottom")
    assert marked(img, 130, 120)
    assert marked(img, 130, 200)
