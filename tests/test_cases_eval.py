"""`tellerwatch eval` on the labelled cases built from real footage (benchmarks/cases), with the
product's defaults (the cases set no detector): every case must be found exactly, within 3 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CASES = sorted((ROOT / "benchmarks" / "cases").glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_eval_case_with_shipped_defaults(case: Path, tmp_path: Path) -> None:
    config = yaml.safe_load(case.read_text())
    assert "detector" not in config, "cases run the shipped defaults"
    for cam in config["cameras"]:
        if not (case.parent / cam["source"]).is_file():
            pytest.skip(f"{cam['source']} is absent (../shared/footage is not beside this checkout)")
    out = tmp_path / "score.json"
    env = dict(os.environ, TELLERWATCH_DATA_DIR=str(tmp_path / "data"))
    r = subprocess.run(
        [sys.executable, "-m", "vision", "eval", str(case), str(case.with_suffix(".json")), "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert r.returncode == 0, r.stderr
    score = json.loads(out.read_text())
    print(f"\n{case.stem}: {json.dumps({k: score[k] for k in ('precision', 'recall', 'max_timing_error_s')})}")
    assert score["precision"] == 1.0, score
    assert score["recall"] == 1.0, score
    assert score["max_timing_error_s"] <= 3.0, score
