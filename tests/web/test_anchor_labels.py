"""The zone editor names the point each zone tests with the same defaults as the pipeline."""

from __future__ import annotations

from api.web import labels
from vision.zones import ANCHORS, DEFAULT_ANCHOR


def test_editor_anchor_defaults_match_the_pipeline() -> None:
    assert labels.KIND_ANCHOR == {kind.value: anchor for kind, anchor in DEFAULT_ANCHOR.items()}
    assert set(labels.ANCHORS) == set(ANCHORS)
    boot = labels.as_json()
    assert boot["kind_anchor"]["teller_area"] == ["center_or_bottom"]
    assert boot["anchors"]["bottom_center"] == ["脚下", "feet"]
