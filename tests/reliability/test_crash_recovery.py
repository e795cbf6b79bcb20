"""Crash recovery: ``tellerwatch run`` SIGKILLed while a violation is open and its clip is being
written, then started again. The restarted run must close the violation in the API (``ended``,
``details.interrupted``), send the snapshot that exists, and leave no ``.part`` file behind.

Real processes on loopback: ``tellerwatch serve`` (uvicorn, SQLite) and ``tellerwatch run`` with the
HTTP sink and the embedded default detector on a still clip of real footage (an empty counter: a
dual-teller violation opens after its grace and never clears).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import INGEST_KEY
from tests.reliability.helpers import ROOT, ApiProcess, still_clip, wait_for

KEY_ENV = "TW_CRASH_KEY"


def api_rows(api_data: Path) -> dict[str, dict[str, Any]]:
    db = api_data / "tellerwatch.sqlite3"
    if not db.exists():
        return {}
    with sqlite3.connect(str(db)) as conn:
        conn.row_factory = sqlite3.Row
        try:
            rows = conn.execute("SELECT id, state, started_at, ended_at, duration_s, details, snapshot, clip "
                                "FROM violations").fetchall()
        except sqlite3.OperationalError:  # not migrated yet
            return {}
    out = {}
    for r in rows:
        d = dict(r)
        d["details"] = json.loads(d["details"]) if isinstance(d["details"], str) else d["details"]
        out[d["id"]] = d
    return out


def parts(data: Path) -> list[Path]:
    return sorted((data / "evidence").rglob("*.part")) if (data / "evidence").exists() else []


@pytest.mark.slow
def test_sigkilled_run_leaves_nothing_open(tmp_path: Path, footage: Any) -> None:
    clip = still_clip(footage("bottle-detection.mp4"), tmp_path / "empty-counter.mp4")
    api_data = tmp_path / "api-data"
    api = ApiProcess(
        {"TELLERWATCH_ENV": "dev", "TELLERWATCH_DATA_DIR": str(api_data), "TELLERWATCH_INGEST_KEYS": INGEST_KEY},
        tmp_path / "serve.log",
    )
    cfg = tmp_path / "branch.yaml"
    cfg.write_text(
        f"site: {{id: crash-branch, timezone: Asia/Shanghai}}\n"
        f'sinks: {{api: {{url: "{api.url}", key_env: {KEY_ENV}, timeout_s: 2}}}}\n'
        f"cameras:\n"
        f"  - id: counter\n"
        f"    source: {clip}\n"
        f"    loop: true\n"
        f'    replay_start: "2026-11-26T09:00:00+08:00"\n'
        f"    analysis_fps: 5\n"
        f"    motion: {{max_skip_s: 60}}\n"
        f"    staff: {{method: everyone}}\n"
        f"    evidence: {{max_clip_s: 3600}}\n"
        f"    zones: [{{name: desk, kind: teller_area, polygon: [[0,0],[1,0],[1,1],[0,1]]}}]\n"
        f"    rules: [{{type: dual_teller, zone: desk, min_staff: 1, grace_s: 1, clear_s: 1, when: always}}]\n",
        encoding="utf-8",
    )
    data = tmp_path / "pipeline-data"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TELLERWATCH_DATA_DIR": str(data), KEY_ENV: INGEST_KEY}

    def pipeline(*extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "tellerwatch", "run", str(cfg), "--quiet", *extra],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    try:
        api.start()
        run1 = pipeline()
        try:
            opened = wait_for(
                lambda: [r for r in api_rows(api_data).values() if r["state"] == "open"] and parts(data)
                and list((data / "evidence").rglob("*.jpg")),
                90, 0.05, "an open violation in the API, its clip being written and its snapshot",
            )
            assert opened
            run1.send_signal(signal.SIGKILL)
            run1.communicate(timeout=30)
        finally:
            if run1.poll() is None:
                run1.kill()
        before = api_rows(api_data)
        (victim,) = [r for r in before.values() if r["state"] == "open"]
        assert parts(data), "the kill should have caught the clip half-written"

        run2 = pipeline("--max-seconds", "4", "--events-jsonl", str(tmp_path / "run2.jsonl"))
        _out, err2 = run2.communicate(timeout=180)
        assert run2.returncode == 0, err2[-3000:]
        assert "1 violation(s) left open by a run that stopped were closed as interrupted" in err2
        after = wait_for(
            lambda: (rows := api_rows(api_data)) and all(r["state"] == "ended" for r in rows.values()) and rows,
            30, 0.1, "every violation ended in the API",
        )
    finally:
        api.stop()
    closed = after[victim["id"]]
    assert closed["details"]["interrupted"] is True
    assert closed["duration_s"] >= victim["duration_s"]  # ended at the last frame seen, not earlier
    started = datetime.fromisoformat(str(closed["started_at"]))
    ended = datetime.fromisoformat(str(closed["ended_at"]))
    assert (ended - started).total_seconds() == pytest.approx(closed["duration_s"], abs=1e-3)
    assert closed["snapshot"], "the snapshot that existed is sent"
    assert closed["clip"] is None and "clip: not finished" in closed["details"]["evidence_error"]
    assert parts(data) == []
    with sqlite3.connect(str(data / "journal.sqlite3")) as db:
        assert db.execute("SELECT COUNT(*) FROM open_violations").fetchone()[0] == 0
    # the restarted run's own violation ended normally (file end), with its clip
    run2_ids = set(after) - set(before)
    assert run2_ids and all("interrupted" not in after[i]["details"] for i in run2_ids)
    events = [json.loads(x) for x in (tmp_path / "run2.jsonl").read_text().splitlines()]
    assert {e["id"] for e in events} == run2_ids | {victim["id"]}
    assert "Traceback" not in err2 and "Traceback" not in (tmp_path / "serve.log").read_text()
