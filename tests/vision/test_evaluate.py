"""Scoring found violations against ground truth."""

from __future__ import annotations

import json

import pytest

from vision.errors import ConfigError
from vision.evaluate import FoundViolation, GroundTruth, load_truth, score


def truth(*spans, tol=3.0):
    return GroundTruth.model_validate({
        "tolerance_s": tol,
        "violations": [{"camera": "c", "rule": r, "zone": "z", "start_s": a, "end_s": b} for r, a, b in spans],
    })


def found(*spans):
    return [FoundViolation(str(i), "c", r, "z", a, b) for i, (r, a, b) in enumerate(spans)]


@pytest.mark.parametrize(
    ("t", "f", "tp", "fp", "fn"),
    [
        ([("dual_teller", 10, 20)], [("dual_teller", 11, 19)], 1, 0, 0),
        ([("dual_teller", 10, 20)], [("dual_teller", 14, 20)], 0, 1, 1),  # start 4 s late
        ([("dual_teller", 10, 20)], [("non_staff_in_area", 10, 20)], 0, 1, 1),  # wrong rule
        ([("dual_teller", 10, 20)], [("dual_teller", 10, 20), ("dual_teller", 10.5, 20)], 1, 1, 0),  # duplicate
        ([("dual_teller", 10, 20), ("dual_teller", 30, 40)], [("dual_teller", 31, 41)], 1, 0, 1),
        ([], [], 0, 0, 0),
    ],
)
def test_matching(t, f, tp, fp, fn) -> None:
    s = score(truth(*t), found(*f))
    assert (s.true_positives, s.false_positives, s.false_negatives) == (tp, fp, fn)
    assert s.precision == (tp / (tp + fp) if tp + fp else 1.0)


def test_timing_errors() -> None:
    s = score(truth(("dual_teller", 10, 20)), found(("dual_teller", 11.5, 19)))
    assert s.mean_start_error_s == pytest.approx(1.5)
    assert s.mean_end_error_s == pytest.approx(1.0)
    assert s.max_timing_error_s == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not a readable JSON"), (json.dumps({"violations": [{"camera": "c"}]}), "violations -> 0")],
)
def test_bad_truth_files(tmp_path, content, message) -> None:
    p = tmp_path / "truth.json"
    p.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_truth(p)


def test_score_json_lists_false_positives_and_misses() -> None:
    s = score(truth(("dual_teller", 10, 20)), found(("non_staff_in_area", 1, 2)))
    data = s.to_json_dict()
    assert data["false_positive_details"][0]["rule"] == "non_staff_in_area"
    assert data["missed"][0]["rule"] == "dual_teller"
    json.dumps(data)


def test_a_truth_that_names_a_kind_matches_only_that_kind():
    from vision.evaluate import GroundTruth, score

    truth = GroundTruth.model_validate({"violations": [
        {"camera": "c", "rule": "camera_tamper", "zone": "camera", "kind": "covered", "start_s": 8, "end_s": 18},
        {"camera": "c", "rule": "camera_tamper", "zone": "camera", "start_s": 18, "end_s": 30},
    ]})
    right = [FoundViolation("1", "c", "camera_tamper", "camera", 8, 18, "covered"),
             FoundViolation("2", "c", "camera_tamper", "camera", 18, 30, "moved")]
    assert score(truth, right).precision == score(truth, right).recall == 1.0
    wrong = [FoundViolation("1", "c", "camera_tamper", "camera", 8, 18, "moved")]
    assert score(truth, wrong).true_positives == 0
