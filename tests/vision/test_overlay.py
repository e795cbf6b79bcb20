"""Evidence overlays: legible at phone width, the offending zone in red, CJK labels or English."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import supervision as sv

from vision.evidence.fonts import LATIN_ONLY, FontSet, cjk_font_path, draws_cjk
from vision.evidence.overlay import (
    ALARM,
    Focus,
    Overlay,
    Renderer,
    ZoneCount,
    ZoneOverlay,
    rule_label,
)

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def scene(w: int = 640, h: int = 360) -> tuple[np.ndarray, Overlay]:
    image = np.full((h, w, 3), 200, np.uint8)
    zones = (
        ZoneOverlay("teller_area", "teller_area", np.array([[0, 0], [w, 0], [w, h // 2], [0, h // 2]], float)),
        ZoneOverlay("seat_1", "teller_area", np.array([[0, 0], [w // 2, 0], [w // 2, h // 2], [0, h // 2]], float)),
        ZoneOverlay("seat_2", "teller_area", np.array([[w // 2, 0], [w, 0], [w, h // 2], [w // 2, h // 2]], float)),
        ZoneOverlay("customer_area", "customer_area", np.array([[0, h * 0.7], [w, h * 0.7], [w, h], [0, h]], float)),
    )
    persons = sv.Detections(xyxy=np.array([[40, 20, 120, 170], [300, 200, 380, 350]], float),
                            tracker_id=np.array([1, 2]), data={"is_staff": np.array([True, False], dtype=object)})
    counts = {"teller_area": ZoneCount(1, 1), "seat_1": ZoneCount(1, 1), "seat_2": ZoneCount(0, 0)}
    return image, Overlay(zones, persons, ("#1 staff", "#2 non-staff"), counts=counts)


def test_labels_say_the_rule_in_chinese_or_english() -> None:
    counts = {"teller_area": ZoneCount(1, 1)}
    dual = Focus("dual_teller", "teller_area", "active", 3.0, min_staff=2)
    assert rule_label(dual, counts, cjk=True)[0] == "双人临柜 在岗 1/2"
    assert rule_label(Focus("unattended_items", "counter", "active", 12.2), counts, True)[0] == "柜面现金无人看管 12 s"
    intruder = Focus("non_staff_in_area", "teller_area", "active", 1.0)
    assert rule_label(intruder, counts, True)[0].startswith("非营业人员")
    for focus in (dual, Focus("unattended_items", "c", "pre", -2.0), Focus("non_staff_in_area", "t", "after", 1.0)):
        big, small = rule_label(focus, counts, cjk=False)
        assert big.isascii() and small.isascii(), (big, small)  # no CJK where no font draws it
    assert rule_label(dual, counts, cjk=False)[0] == "Dual teller: 1/2 staff"


@pytest.mark.parametrize(("w", "h"), [(640, 360), (1280, 720), (1920, 1080), (704, 576)])
def test_text_scales_with_the_frame_and_reads_at_phone_width(w: int, h: int) -> None:
    r = Renderer(w, h, LATIN_ONLY)
    shown = 335 / w  # the review page on a phone shows the picture 335 px wide
    assert r.big * shown >= 12.5, (r.big, shown)  # the rule line: at least ~12.5 px tall on the phone
    assert r.small * shown >= 8.0
    assert r.big / h == pytest.approx(0.075, abs=0.01)


def test_offending_zone_is_filled_red_and_others_stay_thin() -> None:
    image, overlay = scene()
    r = Renderer(640, 360, LATIN_ONLY)
    active = r.draw(image, overlay, focus=Focus("non_staff_in_area", "customer_area", "active", 4.0))
    pre = r.draw(image, overlay, focus=Focus("non_staff_in_area", "customer_area", "pre", -1.0))
    assert np.array_equal(image, np.full_like(image, 200))  # the raw frame stays raw
    inside = (600, 340)  # x, y inside customer_area, clear of boxes and labels
    px, raw = active[inside[1], inside[0]].astype(int), image[inside[1], inside[0]].astype(int)
    # BGR: red rises relative to blue and green (alpha-blended towards ALARM)
    assert px[2] - px[0] > 40 and abs(px[2] - raw[2]) < 60, px
    assert np.array_equal(pre[inside[1], inside[0]], image[inside[1], inside[0]])  # no fill in the pre-roll
    # a zone that is not relevant is a thin outline, not a fill
    seat_inside = (200, 120)
    assert np.array_equal(active[seat_inside[1], seat_inside[0]], image[seat_inside[1], seat_inside[0]])


def test_empty_seat_is_marked_for_dual_teller() -> None:
    image, overlay = scene()
    r = Renderer(640, 360, LATIN_ONLY)
    focus = Focus("dual_teller", "teller_area", "active", 4.0, min_staff=2)
    empty = r.draw(image, overlay, focus=focus)
    staffed = r.draw(image, Overlay(overlay.zones, overlay.persons, overlay.labels,
                                    counts={**overlay.counts, "seat_2": ZoneCount(1, 1)}), focus=focus)
    changed = np.abs(empty.astype(int) - staffed.astype(int)).sum(axis=2) > 30
    # seat_2 (no staff) gets a dashed outline and its label; nothing else in the picture differs
    assert changed[0:185, 315:640].mean() > 0.02
    assert not changed[:, :310].any() and not changed[190:, :].any()


def test_violation_start_is_marked_in_the_picture() -> None:
    image, overlay = scene()
    r = Renderer(640, 360, LATIN_ONLY)
    start = r.draw(image, overlay, focus=Focus("non_staff_in_area", "customer_area", "active", 0.1))
    later = r.draw(image, overlay, focus=Focus("non_staff_in_area", "customer_area", "active", 2.0))
    edge = (180, 2)  # the frame's top edge, away from the banner
    assert tuple(start[edge[1], edge[0]]) == ALARM
    assert tuple(later[edge[1], edge[0]]) != ALARM


def test_cjk_font_is_found_and_real() -> None:
    path = cjk_font_path()
    if path is None:
        pytest.skip("no CJK font installed (noto-cjk-sans-otc or fonts-wqy-microhei)")
    assert draws_cjk(path)
    image, overlay = scene()
    drawn = Renderer(640, 360, FontSet(cjk=True, path=path)).draw(
        image, overlay, focus=Focus("dual_teller", "teller_area", "active", 3.0, min_staff=2))
    assert drawn.shape == image.shape


@pytest.mark.skipif(not DEJAVU.is_file(), reason="DejaVu Sans (a Latin-only font) is not installed")
def test_a_latin_only_font_is_not_taken_for_a_cjk_one() -> None:
    assert not draws_cjk(DEJAVU)


def test_box_labels_never_cover_the_rule_line() -> None:
    """An intruder near the top-left corner: their label moves below the banner, which stays whole."""
    image, overlay = scene()
    r = Renderer(640, 360, LATIN_ONLY)
    focus = Focus("non_staff_in_area", "teller_area", "active", 8.0)
    near = sv.Detections(xyxy=np.array([[10, 60, 80, 170]], float), tracker_id=np.array([9]),
                         data={"is_staff": np.array([False], dtype=object)})
    alone = r.draw(image, Overlay(overlay.zones, counts=overlay.counts), focus=focus)
    crowded = r.draw(image, Overlay(overlay.zones, near, counts=overlay.counts), focus=focus)
    banner = r._line_height("Non-staff in teller area 8 s", r.big) + r._line_height("x", r.small)
    region = (slice(0, banner), slice(0, 250))
    assert np.array_equal(alone[region], crowded[region])
    assert not np.array_equal(alone, crowded)  # the label and box are drawn, just elsewhere
