"""The command line as users run it: real detectors on real clips, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tellerwatch(*args: str, cwd: Path, data: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, TELLERWATCH_DATA_DIR=str(data or cwd / "data"))
    return subprocess.run([sys.executable, "-m", "tellerwatch", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def config(tmp_path: Path, source: Path, detector: str = "type: ssd-mobilenet", zones: str = "", rules: str = "",
           staff: str = "everyone") -> Path:
    text = textwrap.dedent(
        f"""\
        site: {{id: test-branch, timezone: Asia/Shanghai, business_hours: {{mon-sun: ["00:00-24:00"]}}}}
        detector: {{{detector}}}
        cameras:
          - id: cam
            source: {source}
            replay_start: "2026-11-26T09:00:00+08:00"
            analysis_fps: 5
            staff: {{method: {staff}}}
            zones: [{zones}]
            rules: [{rules}]
        """
    )
    p = tmp_path / "site.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def frames(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


DETECTORS = {
    "ssd-mobilenet": lambda m: "type: ssd-mobilenet",
    "yolox-onnx": lambda m: f"type: yolox-onnx, model: {m('yolox_nano_416x416.onnx')}",
}


@pytest.mark.slow
@pytest.mark.parametrize("detector", list(DETECTORS))
@pytest.mark.parametrize(("clip", "people"), [("classroom.gif", 4), ("worker-zone-detection.gif", 1)])
def test_person_counts_on_real_clips(tmp_path, footage, shared_model, detector, clip, people) -> None:
    cfg = config(tmp_path, footage(clip), DETECTORS[detector](shared_model),
                 zones="{name: all, kind: teller_area, polygon: [[0,0],[1,0],[1,1],[0,1]]}")
    out = tmp_path / "frames.jsonl"
    r = tellerwatch("run", str(cfg), "--frames-jsonl", str(out), "--no-clips", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = frames(out)
    assert len(rows) >= 10
    exact = sum(row["persons"] == people for row in rows) / len(rows)
    assert exact >= 0.95, [row["persons"] for row in rows]
    assert all(set(row) == {"camera", "index", "t", "persons", "zones"} for row in rows)
    assert all(set(row["zones"]["all"]) == {"persons", "staff", "items"} for row in rows)
    # t is seconds from the first frame, spaced by the analysis rate
    ts = [row["t"] for row in rows]
    assert ts[0] == 0.0 and all(0.1 < b - a < 0.35 for a, b in zip(ts, ts[1:], strict=False))


@pytest.mark.slow
def test_classroom_desk_zones_and_a_dual_teller_violation(tmp_path, footage) -> None:
    """Zones around the desks count two people each; asking for three staff at the right desks
    raises one dual_teller violation spanning the clip, closed at the last frame."""
    zones = ("{name: left, kind: teller_area, polygon: [[0.05,0.45],[0.42,0.45],[0.42,0.85],[0.05,0.85]]},"
             "{name: right, kind: teller_area, polygon: [[0.42,0.45],[0.80,0.45],[0.80,0.85],[0.42,0.85]]}")
    rules = ("{type: dual_teller, zone: left, min_staff: 2, grace_s: 1, when: always},"
             "{type: dual_teller, zone: right, min_staff: 3, grace_s: 1, when: always}")
    cfg = config(tmp_path, footage("classroom.gif"), zones=zones, rules=rules)
    events, frames_out = tmp_path / "events.jsonl", tmp_path / "frames.jsonl"
    r = tellerwatch("run", str(cfg), "--events-jsonl", str(events), "--frames-jsonl", str(frames_out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = frames(frames_out)
    assert sum(row["zones"]["left"]["persons"] == 2 and row["zones"]["right"]["persons"] == 2 for row in rows) >= \
        0.95 * len(rows)
    violations = frames(events)
    assert [(v["rule"], v["zone"], v["state"]) for v in violations] == [("dual_teller", "right", "ended")]
    v = violations[0]
    assert v["started_at"].startswith("2026-11-26T09:00:00.")
    assert v["details"]["min_staff_seen"] <= 2
    assert 2.0 <= v["duration_s"] <= 2.8
    assert (tmp_path / "data" / v["clip"]).is_file() and (tmp_path / "data" / v["snapshot"]).is_file()


def test_validate_good_and_bad(tmp_path, footage) -> None:
    good = config(tmp_path, footage("classroom.gif"))
    r = tellerwatch("validate", str(good), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("analysis_fps: 5", "analysis_fps: -5"))
    r = tellerwatch("validate", str(bad), cwd=tmp_path)
    assert r.returncode == 2
    assert "bad.yaml:7: cameras -> 0 -> analysis_fps: -5: Input should be greater than 0" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("missing_video", "file not found"),
        ("garbage_video", "garbage.mp4"),
        ("garbage_model", "garbage.onnx"),
        ("wrong_layout_model", "person-reid-0288.onnx"),
        ("broken_yaml", "not valid YAML"),
    ],
)
def test_run_errors_are_one_line_exit_2(tmp_path, shared_model, case, expect) -> None:
    (tmp_path / "garbage.mp4").write_bytes(os.urandom(4096))
    (tmp_path / "garbage.onnx").write_bytes(os.urandom(4096))
    video = tmp_path / "garbage.mp4"
    detector = "type: ssd-mobilenet"
    if case == "missing_video":
        video = tmp_path / "nope.mp4"
    elif case == "garbage_model":
        detector = f"type: yolox-onnx, model: {tmp_path / 'garbage.onnx'}"
        video = tmp_path / "garbage.mp4"
    elif case == "wrong_layout_model":
        detector = f"type: yolox-onnx, model: {shared_model('person-reid-0288.onnx')}"
    cfg = config(tmp_path, video, detector)
    if case == "broken_yaml":
        cfg.write_text(cfg.read_text() + "\n  - [unclosed\n")
    if case in ("garbage_model", "wrong_layout_model"):
        # the model is checked before any frame is read
        pass
    r = tellerwatch("run", str(cfg), "--no-clips", cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert expect in lines[0]
    assert "Traceback" not in r.stderr


def test_unknown_command_and_missing_config(tmp_path) -> None:
    r = tellerwatch("run", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert r.returncode == 2 and "config file not found" in r.stderr
    r = tellerwatch("frobnicate", cwd=tmp_path)
    assert r.returncode == 2
