"""`tellerwatch eval` on every sample scene (embedded default detector) and on the labelled cases
built from real footage (benchmarks/cases, the product's defaults): each must find exactly the
scripted violations in time.

The sample scenes also pin the per-frame path: each run's ``--frames-jsonl`` output (persons, staff
and items per zone on every analysed frame) and its violation state changes must be byte-identical
to the golden files in ``tests/golden``, so a refactor of the stages cannot change behaviour
unnoticed. After an intended change of behaviour, rewrite them with
``TW_GOLDEN_UPDATE=1 pytest tests/test_eval.py -k scene`` and say why in the commit."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCENES = sorted((ROOT / "sample_videos" / "scenes").glob("*.yaml"))
CASES = sorted((ROOT / "benchmarks" / "cases").glob("*.yaml"))
GOLDEN = Path(__file__).parent / "golden"
# what of a violation state change does not depend on the run: no ids, no evidence file names
EVENT_KEYS = ("camera", "rule", "zone", "state", "started_at", "ended_at", "duration_s")


def run_eval(config: Path, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / "score.json"
    env = dict(os.environ, TELLERWATCH_DATA_DIR=str(tmp_path / "data"))
    r = subprocess.run(
        [sys.executable, "-m", "tellerwatch", "eval", str(config), str(config.with_suffix(".json")), "--json", str(out),
         *extra],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert r.returncode == 0, r.stderr
    score = json.loads(out.read_text())
    print(f"\n{config.stem}: {json.dumps({k: score[k] for k in ('precision', 'recall', 'max_timing_error_s')})}")
    return score


def events_digest(path: Path) -> bytes:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return "".join(json.dumps({k: r.get(k) for k in EVENT_KEYS}, sort_keys=True) + "\n" for r in rows).encode()


def check_golden(name: str, produced: bytes) -> None:
    golden = GOLDEN / f"{name}.gz"
    if os.environ.get("TW_GOLDEN_UPDATE") == "1":
        golden.write_bytes(gzip.compress(produced, mtime=0))
    assert golden.is_file(), f"{golden.name} is missing: TW_GOLDEN_UPDATE=1 writes it"
    expected = gzip.decompress(golden.read_bytes())
    if produced != expected:
        got, want = produced.decode().splitlines(), expected.decode().splitlines()
        first = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), min(len(got), len(want)))
        pytest.fail(f"{name} differs from the golden file at line {first + 1} ({len(got)} vs {len(want)} lines):\n"
                    f"got:  {got[first] if first < len(got) else '<end>'}\n"
                    f"want: {want[first] if first < len(want) else '<end>'}")


@pytest.mark.slow
@pytest.mark.parametrize("scene", SCENES, ids=[p.stem for p in SCENES])
def test_eval_scene(scene: Path, tmp_path: Path) -> None:
    frames, events = tmp_path / "frames.jsonl", tmp_path / "events.jsonl"
    score = run_eval(scene, tmp_path, "--frames-jsonl", str(frames), "--events-jsonl", str(events))
    assert score["precision"] == 1.0, score
    assert score["recall"] == 1.0, score
    assert score["max_timing_error_s"] < 2.0, score
    check_golden(f"{scene.stem}.frames.jsonl", frames.read_bytes())
    check_golden(f"{scene.stem}.events.jsonl", events_digest(events))


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_eval_case_with_shipped_defaults(case: Path, tmp_path: Path) -> None:
    config = yaml.safe_load(case.read_text())
    assert "detector" not in config, "cases run the shipped defaults"
    for cam in config["cameras"]:
        if not (case.parent / cam["source"]).is_file():
            pytest.skip(f"{cam['source']} is absent (../shared/footage is not beside this checkout)")
    score = run_eval(case, tmp_path)
    assert score["precision"] == 1.0, score
    assert score["recall"] == 1.0, score
    assert score["max_timing_error_s"] <= 3.0, score
