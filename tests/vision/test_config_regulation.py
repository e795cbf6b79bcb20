"""Config of the further rules: tailgating needs a door zone, cash escort needs staff and classes
the detector knows, unattended items may be attended by nobody; errors name line and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.vision.test_config import GOOD, write
from vision.config import CashEscortRule, IntrusionRule, TailgatingRule, UnattendedItemsRule, load_config
from vision.errors import ConfigError

MORE = GOOD + (
    "      - {type: tailgating,        zone: staff_door, window_s: 3, max_persons: 1}\n"
    "      - {type: cash_escort,       zone: teller_area, min_staff: 2, radius: 0.25}\n"
    "      - {type: intrusion,         zone: teller_area, grace_s: 1}\n"
)


@pytest.fixture
def cfg_dir(tmp_path: Path) -> Path:
    (tmp_path / "clip.mp4").write_bytes(b"\x00")
    return tmp_path


def test_the_further_rules_parse_with_their_defaults(cfg_dir: Path) -> None:
    cfg = load_config(write(cfg_dir, MORE.replace("attended_by: teller_area", "attended_by: null")))
    rules = cfg.cameras[0].rules
    assert isinstance(rules[1], UnattendedItemsRule) and rules[1].attended_by is None
    tail, escort, intrusion = rules[3:]
    assert isinstance(tail, TailgatingRule) and tail.when.value == "always" and tail.grace_s == 0
    assert isinstance(escort, CashEscortRule) and escort.item_classes == ["suitcase", "handbag", "backpack"]
    assert isinstance(intrusion, IntrusionRule) and intrusion.when.value == "after_hours"
    assert cfg.detector.carried_classes == ["suitcase", "handbag", "backpack"]


@pytest.mark.parametrize(
    ("old", "new", "line", "path", "reason"),
    [
        ("tailgating,        zone: staff_door", "tailgating,        zone: teller_area", 27,
         "cameras -> 0 -> rules -> 3 -> zone", "tailgating watches a zone of kind 'door'"),
        ("min_staff: 2, radius", "min_staff: 0, radius", 28, "cameras -> 0 -> rules -> 4 -> min_staff",
         "greater than or equal to 1"),
        ("min_staff: 2, radius", "item_classes: [suitcase, cash_box], min_staff: 2, radius", 28,
         "cameras -> 0 -> rules -> 4 -> item_classes -> 1", "'cash_box' is not a class of the detector"),
    ],
)
def test_bad_rules_name_line_path_and_reason(cfg_dir: Path, old: str, new: str, line: int, path: str,
                                             reason: str) -> None:
    assert old in MORE
    with pytest.raises(ConfigError) as info:
        load_config(write(cfg_dir, MORE.replace(old, new, 1)))
    problems = info.value.problems
    assert any(path in p and reason in p and f":{line}:" in p for p in problems), problems


def test_a_model_of_its_own_may_name_a_cash_box_class(cfg_dir: Path) -> None:
    (cfg_dir / "bank.onnx").write_bytes(b"\x00")
    text = MORE.replace("type: ssd-mobilenet", "type: yolo-onnx\n  model: bank.onnx\n  class_names: [person, cash_box]")
    text = text.replace("min_staff: 2, radius", "item_classes: [cash_box], min_staff: 2, radius")
    cfg = load_config(write(cfg_dir, text))
    assert cfg.detector.carried_classes == ["cash_box"]
