"""API outages end to end: ``tellerwatch run`` and ``tellerwatch serve`` as real processes, the API
on the local PostgreSQL server, SIGKILL for both.

1. The API is SIGKILLed while a run is delivering; the run goes on and ends with its undelivered
   violations in the outbox (exit 0, says so).
2. The pipeline is restarted while the API is still down, and SIGKILLed mid-run itself.
3. The API comes back on the same database; a third run delivers the backlog at once and its own.

Then the API's database must hold every violation of the three runs exactly once, each in the
last state its pipeline recorded (the final state from ``--events-jsonl`` for runs that ended,
the newest outbox row for the one that was killed), and the outbox must be empty.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import INGEST_KEY, temporary_pg_database
from tests.reliability.helpers import ROOT, ApiProcess, prometheus, still_clip, wait_for, windows

KEY_ENV = "TW_OUTAGE_KEY"
FIELDS = ("state", "started_at", "ended_at", "duration_s", "details", "snapshot", "clip")


@pytest.fixture
def pg_url() -> Iterator[str]:
    with temporary_pg_database("tw_outage") as name:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"


def db_rows(url: str) -> dict[str, dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, row_factory=dict_row) as conn:
        rows = conn.execute(f"SELECT id, {', '.join(FIELDS)} FROM violations").fetchall()
    return {r["id"]: r for r in rows}


def outbox(data: Path, table: str = "pending") -> dict[str, dict[str, Any]]:
    path = data / "outbox.sqlite3"
    if not path.exists():
        return {}
    with sqlite3.connect(str(path)) as db:
        if table == "dead":
            return {r[0]: {} for r in db.execute("SELECT id FROM dead")}
        return {r[0]: json.loads(r[1]) for r in db.execute("SELECT id, record FROM pending")}


def jsonl(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    return {v["id"]: v for v in (json.loads(x) for x in path.read_text().splitlines() if x.strip())}


def same_state(stored: dict[str, Any], record: dict[str, Any]) -> bool:
    from datetime import datetime

    def ts(v: Any) -> float | None:
        if v is None:
            return None
        return (v if isinstance(v, datetime) else datetime.fromisoformat(v)).timestamp()

    return (
        stored["state"] == record["state"]
        and ts(stored["started_at"]) == pytest.approx(ts(record["started_at"]), abs=1e-3)
        and (stored["ended_at"] is None) == (record["ended_at"] is None)
        and (record["ended_at"] is None or ts(stored["ended_at"]) == pytest.approx(ts(record["ended_at"]), abs=1e-3))
        and stored["duration_s"] == pytest.approx(record["duration_s"], abs=1e-3)
        and stored["details"] == record["details"]
    )


@pytest.mark.slow
def test_api_and_pipeline_sigkilled_every_violation_arrives_once(
    tmp_path: Path, footage: Any, pg_url: str
) -> None:
    clip = still_clip(footage("bottle-detection.mp4"), tmp_path / "empty-counter.mp4")
    api = ApiProcess(
        {
            "TELLERWATCH_ENV": "dev",
            "TELLERWATCH_DATABASE_URL": pg_url,
            "TELLERWATCH_DATA_DIR": str(tmp_path / "api-data"),
            "TELLERWATCH_INGEST_KEYS": INGEST_KEY,
        },
        tmp_path / "serve.log",
    )
    cameras = "".join(
        f"""
  - id: cam-{i}
    source: {clip}
    loop: true
    replay_start: "2026-11-26T09:00:{15 * i:02d}+08:00"
    analysis_fps: 1
    motion: {{max_skip_s: 60}}
    staff: {{method: everyone}}
    zones: [{{name: counter, kind: teller_area, polygon: [[0,0],[1,0],[1,1],[0,1]]}}]
    rules: [{{type: dual_teller, zone: counter, min_staff: 1, grace_s: 1, clear_s: 1, when: business_hours}}]"""
        for i in (1, 2)
    )
    cfg = tmp_path / "branch.yaml"
    cfg.write_text(
        f"site: {{id: outage-branch, timezone: Asia/Shanghai, business_hours: {{mon-sun: {windows(60)}}}}}\n"
        f'sinks: {{api: {{url: "{api.url}", key_env: {KEY_ENV}, timeout_s: 2}}}}\n'
        f"cameras:{cameras}\n",
        encoding="utf-8",
    )
    data = tmp_path / "pipeline-data"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TELLERWATCH_DATA_DIR": str(data), KEY_ENV: INGEST_KEY}

    def pipeline(n: int, media_s: int) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "tellerwatch", "run", str(cfg), "--events-jsonl", str(tmp_path / f"run{n}.jsonl"),
             "--max-seconds", str(media_s), "--quiet"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    try:
        # -- 1: the API dies mid-run
        api.start()
        run1 = pipeline(1, 900)
        wait_for(lambda: len(db_rows(pg_url)) >= 2, 60, 0.1, "the first deliveries")
        api.kill()
        delivered_before_kill = set(db_rows(pg_url))
        out1, err1 = run1.communicate(timeout=120)
        assert run1.returncode == 0, err1[-3000:]
        assert "undelivered events stay queued for the next run" in err1
        ev1 = jsonl(tmp_path / "run1.jsonl")
        backlog1 = outbox(data)
        assert len(ev1) >= 12 and backlog1 and set(backlog1) <= set(ev1)
        assert all(backlog1[i]["state"] == "ended" for i in backlog1)

        # -- 2: the pipeline restarts while the API is still down, and is SIGKILLed mid-run
        run2 = pipeline(2, 3600)
        wait_for(
            lambda: len(jsonl(tmp_path / "run2.jsonl")) >= 3
            and any(r["state"] == "open" for r in outbox(data).values()),
            60, 0.05, "run 2 under way, with a violation open",
        )
        run2.send_signal(signal.SIGKILL)  # most likely mid-violation: its open state stays the last one
        run2.communicate(timeout=30)
        backlog2 = outbox(data)
        assert set(backlog1) <= set(backlog2)
        run2_ids = set(backlog2) - set(ev1)
        assert run2_ids
        open_at_kill = sum(backlog2[i]["state"] == "open" for i in run2_ids)

        # -- 3: the API is back on the same database; a third run delivers the backlog at once
        api.start()
        run3 = pipeline(3, 300)
        t0 = time.monotonic()
        wait_for(lambda: set(backlog2) <= set(db_rows(pg_url)), 10, 0.1, "the backlog after the restart")
        backlog_s = time.monotonic() - t0
        out3, err3 = run3.communicate(timeout=120)
        assert run3.returncode == 0, err3[-3000:]
        assert "undelivered" not in err3
        metrics = prometheus(api.url, INGEST_KEY)
    finally:
        api.stop()
    ev3 = jsonl(tmp_path / "run3.jsonl")
    expected = {**ev1, **backlog2, **ev3}
    stored = db_rows(pg_url)
    print(
        f"run 1: {len(ev1)} violations, {len(delivered_before_kill)} delivered before the API was killed, "
        f"{len(backlog1)} queued; run 2 (killed): {len(run2_ids)} queued, {open_at_kill} open; run 3: {len(ev3)}; "
        f"backlog delivered {backlog_s:.1f} s after the restart"
    )
    assert set(stored) == set(expected)
    wrong = [i for i in expected if not same_state(stored[i], expected[i])]
    assert not wrong, [(stored[i], expected[i]) for i in wrong[:2]]
    assert outbox(data) == {} and outbox(data, "dead") == {}
    created = metrics[("tellerwatch_ingest_events_total", (("result", "created"),))]
    assert created == len(expected) - len(delivered_before_kill)  # the second API created each of the rest once
    for err in (err1, err3):
        assert "Traceback" not in err
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
