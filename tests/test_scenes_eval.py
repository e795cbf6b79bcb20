"""`tellerwatch eval` on every sample scene with the embedded default detector: the pipeline must
find exactly the scripted violations, each within 2 s of its true start and end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENES = sorted((ROOT / "sample_videos" / "scenes").glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("scene", SCENES, ids=[p.stem for p in SCENES])
def test_eval_scene(scene: Path, tmp_path: Path) -> None:
    out = tmp_path / "score.json"
    env = dict(os.environ, TELLERWATCH_DATA_DIR=str(tmp_path / "data"))
    r = subprocess.run(
        [sys.executable, "-m", "vision", "eval", str(scene), str(scene.with_suffix(".json")), "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert r.returncode == 0, r.stderr
    score = json.loads(out.read_text())
    print(f"\n{scene.stem}: {json.dumps({k: score[k] for k in ('precision', 'recall', 'max_timing_error_s')})}")
    assert score["precision"] == 1.0, score
    assert score["recall"] == 1.0, score
    assert score["max_timing_error_s"] < 2.0, score
