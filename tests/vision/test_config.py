"""Config loading: valid files parse into arrays and windows; every bad input names line, path, value."""

from __future__ import annotations

import textwrap
from datetime import time
from pathlib import Path

import numpy as np
import pytest

from vision.config import load_config, parse_config
from vision.errors import ConfigError

GOOD = textwrap.dedent(
    """\
    site:
      id: branch-012
      name: 城关信用社营业部
      timezone: Asia/Shanghai
      business_hours:
        mon-fri: ["08:30-12:00", "13:30-17:00"]
        sat: ["09:00-12:00"]
      holidays: ["2026-10-01"]
    detector:
      type: ssd-mobilenet
      confidence: 0.4
    cameras:
      - id: counter-1
        source: clip.mp4
        replay_start: "2026-11-26T09:00:00+08:00"
        analysis_fps: 5
        zones:
          - {name: teller_area, kind: teller_area, polygon: [[0.0,0.45],[1.0,0.45],[1.0,1.0],[0.0,1.0]]}
          - {name: counter_top, kind: counter,     polygon: [[0.1,0.40],[0.9,0.40],[0.9,0.50],[0.1,0.50]]}
          - {name: staff_door,  kind: door,        polygon: [[0.9,0.5],[1.0,0.5],[1.0,0.8],[0.9,0.8]]}
        staff:
          method: entry
        rules:
          - {type: dual_teller,       zone: teller_area, min_staff: 2, grace_s: 30, when: business_hours}
          - {type: unattended_items,  zone: counter_top, attended_by: teller_area, grace_s: 10}
          - {type: non_staff_in_area, zone: teller_area, grace_s: 2, when: always}
    """
)


@pytest.fixture
def cfg_dir(tmp_path: Path) -> Path:
    (tmp_path / "clip.mp4").write_bytes(b"\0")
    return tmp_path


def write(cfg_dir: Path, text: str) -> Path:
    p = cfg_dir / "tellerwatch.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_config_parses_once(cfg_dir: Path) -> None:
    cfg = load_config(write(cfg_dir, GOOD))
    cam = cfg.cameras[0]
    assert cam.source == str(cfg_dir / "clip.mp4")  # resolved against the config's folder
    assert isinstance(cam.zones[0].points, np.ndarray) and cam.zones[0].points.shape == (4, 2)
    assert cfg.site.windows[0] == [(time(8, 30), time(12, 0)), (time(13, 30), time(17, 0))]
    assert cfg.site.windows[5] == [(time(9, 0), time(12, 0))]
    assert cfg.site.windows[6] == []
    assert [r.type for r in cam.rules] == ["dual_teller", "unattended_items", "non_staff_in_area"]
    assert cam.rules[1].when.value == "business_hours"


@pytest.mark.parametrize(
    ("old", "new", "line", "path", "reason"),
    [
        ("grace_s: 2, when: always}", "grace_s: -2, when: always}", 26, "cameras -> 0 -> rules -> 2 -> grace_s",
         "greater than or equal to 0"),
        ("min_staff: 2,", "min_staff: 2, colour: red,", 24, "cameras -> 0 -> rules -> 0 -> colour",
         "Extra inputs are not permitted"),
        ("timezone: Asia/Shanghai", "timezone: Mars/Olympus", 4, "site -> timezone", "unknown time zone"),
        ('"08:30-12:00"', '"08:30-25:00"', 6, "site -> business_hours", "impossible time"),
        ("[1.0,0.45],[1.0,1.0]", "[1.5,0.45],[1.0,1.0]", 18, "cameras -> 0 -> zones -> 0 -> polygon",
         "outside [0, 1]"),
        ("zone: counter_top, attended_by", "zone: nowhere, attended_by", 13, "cameras -> 0",
         "'nowhere' is not among"),
        ("source: clip.mp4", "source: missing.mp4", 14, "cameras -> 0 -> source", "file not found"),
        ("type: ssd-mobilenet", "type: yolox-onnx", 10, "detector", "needs 'model: PATH'"),
        ("analysis_fps: 5", "analysis_fps: fast", 16, "cameras -> 0 -> analysis_fps", "valid number"),
        ("method: entry", "method: psychic", 22, "cameras -> 0 -> staff -> method", "Input should be"),
    ],
)
def test_bad_values_name_line_path_and_reason(cfg_dir, old, new, line, path, reason) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    with pytest.raises(ConfigError) as info:
        load_config(write(cfg_dir, text))
    problems = info.value.problems
    assert any(path in p and reason in p for p in problems), problems
    assert any(f":{line}:" in p for p in problems if path in p), problems


def test_non_staff_rule_on_any_zone_kind_is_valid(cfg_dir) -> None:
    text = GOOD.replace("type: non_staff_in_area, zone: teller_area", "type: non_staff_in_area, zone: staff_door")
    cfg = load_config(write(cfg_dir, text))
    assert cfg.cameras[0].rules[2].zone == "staff_door"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("site: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        ("site: {id: x}\ncameras: []\n", "at least 1"),
        (GOOD.replace("id: counter-1", "id: counter 1"), "should match pattern"),
        (GOOD + GOOD[GOOD.index("  - id: counter-1"):].replace("cameras:\n", ""), "camera ids must be unique"),
    ],
)
def test_broken_files(cfg_dir, text, reason) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(cfg_dir, text))
    assert any(reason in p for p in info.value.problems), info.value.problems


def test_missing_config_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_naive_replay_start_takes_site_timezone(cfg_dir) -> None:
    text = GOOD.replace('"2026-11-26T09:00:00+08:00"', '"2026-11-26T09:00:00"')
    cfg = parse_config(text, base_dir=cfg_dir)
    assert cfg.cameras[0].replay_start is not None
    assert cfg.cameras[0].replay_start.utcoffset().total_seconds() == 8 * 3600


def test_urls_and_webcams_are_not_paths(cfg_dir) -> None:
    for src, expected in (("rtsp://10.0.0.5/stream1", "rtsp://10.0.0.5/stream1"), ("0", 0), ("2", 2)):
        cfg = parse_config(GOOD.replace("source: clip.mp4", f"source: {src}"), base_dir=cfg_dir)
        assert cfg.cameras[0].source == expected
        assert cfg.cameras[0].is_live
