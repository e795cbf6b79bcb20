"""The outbox's dead letter: permanent refusals are parked (never lost, never retried forever),
transient ones are retried, and `tellerwatch outbox` lists, retries and drops what is parked.
Against the real API served by uvicorn on a loopback port."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from api.app import create_app
from api.models import Violation as ViolationRow
from api.settings import Settings
from tests.api.helpers import INGEST_KEY, JPEG, MP4, ThreadServer, ended, record
from vision.config import ApiSinkConfig
from vision.events import Violation
from vision.sinks import HttpSink, Outbox
from vision.sinks.http import OUTBOX_FILE, fingerprint, is_transient

ROOT = Path(__file__).resolve().parents[2]
KEY_ENV = "TW_TEST_OUTBOX_KEY"


def api_settings(data: Path, **kw: Any) -> Settings:
    return Settings(env="dev", data_dir=data, ingest_keys=INGEST_KEY, argon2_time_cost=1, argon2_memory_kib=64,
                    argon2_parallelism=1, **kw)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FastAPI]:
    app = create_app(api_settings(tmp_path / "api"))
    yield app
    app.state.db.dispose()


@pytest.fixture(autouse=True)
def key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, INGEST_KEY)


def sink_for(port: int, data_dir: Path) -> HttpSink:
    cfg = ApiSinkConfig(url=f"http://127.0.0.1:{port}", key_env=KEY_ENV, timeout_s=2)
    return HttpSink(cfg, data_dir, backoff_initial_s=0.05, backoff_max_s=0.3)


def violation(**overrides: Any) -> Violation:
    return Violation.model_validate(record(**overrides))


def final(v: Violation) -> Violation:
    return Violation.model_validate(ended(v.to_json_dict()))


def stored(app: FastAPI) -> dict[str, ViolationRow]:
    with app.state.db.session() as s:
        rows = s.query(ViolationRow).all()
        s.expunge_all()
        return {v.id: v for v in rows}


def tellerwatch(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TELLERWATCH_DATA_DIR=str(data))
    return subprocess.run([sys.executable, "-m", "tellerwatch", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def wait_for(cond: Callable[[], bool], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


@pytest.mark.parametrize(
    ("code", "transient"),
    [(200, False), (201, False), (301, True),
     (400, False), (403, False), (404, False), (409, False), (413, False), (415, False), (422, False),
     (401, True), (408, True), (425, True), (429, True), (500, True), (502, True), (503, True), (504, True)],
)
def test_which_answers_are_retried(code: int, transient: bool) -> None:
    assert is_transient(code) is transient


def test_refused_event_is_parked_next_one_delivered_and_retry_delivers_it(
    api: FastAPI, data_dir: Path, tmp_path: Path
) -> None:
    """A snapshot that is not a JPEG (a write cut short on the box) is refused with 422: the event
    goes to the dead letter with its files, the next event goes through, and once the file is
    restored `tellerwatch outbox retry` hands it to the running pipeline, which delivers it."""
    snap = tmp_path / "snap.jpg"
    snap.write_bytes(b"\x00" * 100)
    bad, good = violation(), violation()
    with ThreadServer(api) as server:
        sink = sink_for(server.port, data_dir)
        sink.publish(final(bad), {"snapshot": snap})
        sink.publish(final(good))
        assert sink.flush(10)
        assert set(stored(api)) == {good.id}
        assert sink.outbox.dead_count() == 1 and sink.pending() == 0

        listed = tellerwatch("outbox", "list", "--json", data=data_dir)
        assert listed.returncode == 0, listed.stderr
        (entry,) = [json.loads(line) for line in listed.stdout.splitlines()]
        assert entry["id"] == bad.id and entry["code"] == 422 and "JPEG" in entry["error"]
        assert entry["evidence"] == {"snapshot": str(snap.resolve())} and entry["record"]["state"] == "ended"
        table = tellerwatch("outbox", "list", data=data_dir)
        assert "0 waiting to be sent, 1 in the dead letter" in table.stdout and bad.id[:8] in table.stdout

        # the refusal stands until someone acts: nothing is retried meanwhile
        time.sleep(1.0)
        assert bad.id not in stored(api) and sink.outbox.dead_count() == 1

        snap.write_bytes(JPEG)  # the cause is fixed
        retried = tellerwatch("outbox", "retry", bad.id[:10], data=data_dir)
        assert retried.returncode == 0, retried.stderr
        assert "1 queued again" in retried.stdout
        assert wait_for(lambda: bad.id in stored(api) and sink.pending() == 0)
        assert sink.outbox.dead_count() == 0
        sink.close()
    row = stored(api)[bad.id]
    assert row.state == "ended" and row.snapshot == f"counter-1/{bad.id}.jpg"
    assert (api.state.settings.evidence_path / "counter-1" / f"{bad.id}.jpg").read_bytes() == JPEG


class Flaky:
    """Answers POST /events with the given statuses first, then lets requests through to the API."""

    def __init__(self, app: FastAPI, answers: list[tuple[int, dict[str, str]]]) -> None:
        self.app, self.answers, self.seen = app, list(answers), 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/events") and self.answers:
            code, headers = self.answers.pop(0)
            self.seen += 1
            await send({"type": "http.response.start", "status": code,
                        "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})
            await send({"type": "http.response.body", "body": b"try again"})
            return
        await self.app(scope, receive, send)


def test_transient_answers_are_retried_with_backoff(api: FastAPI, data_dir: Path) -> None:
    answers = [(503, {}), (429, {"retry-after": "0"}), (408, {}), (502, {}), (500, {})]
    flaky = Flaky(api, answers)
    v = violation()
    with ThreadServer(flaky) as server:  # type: ignore[arg-type]
        sink = sink_for(server.port, data_dir)
        sink.publish(v)
        assert sink.flush(15)
        sink.close()
    assert flaky.seen == len(answers) and sink.stats["retries"] == len(answers)
    assert sink.stats["dead"] == 0 and set(stored(api)) == {v.id}


def test_too_large_upload_sends_the_record_and_parks_the_evidence(data_dir: Path, tmp_path: Path) -> None:
    """413: operators get the violation at once; the clip waits in the dead letter until the API
    takes larger uploads, then follows with `outbox retry --all`."""
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(MP4)  # 100 kB
    v = final(violation())
    v = v.model_copy(update={"clip": f"evidence/counter-1/{v.id}.mp4"})  # the violation's own file
    small = create_app(api_settings(tmp_path / "api", max_upload_bytes=4096))
    try:
        with ThreadServer(small) as server:
            sink = sink_for(server.port, data_dir)
            sink.publish(v, {"clip": clip})
            assert sink.flush(10)
            sink.close()
        row = stored(small)[v.id]
        assert row.state == "ended" and row.clip == f"evidence/counter-1/{v.id}.mp4"  # the path only, no file
        assert not (small.state.settings.evidence_path / "counter-1" / f"{v.id}.mp4").exists()
    finally:
        small.state.db.dispose()
    box = Outbox(data_dir / OUTBOX_FILE)
    (dead,) = box.dead_letters()
    assert dead.code == 413 and dead.evidence == {"clip": str(clip.resolve())}
    box.close()

    larger = create_app(api_settings(tmp_path / "api"))  # same database and evidence folder
    try:
        assert tellerwatch("outbox", "retry", "--all", data=data_dir).returncode == 0
        with ThreadServer(larger) as server:
            sink = sink_for(server.port, data_dir)
            assert sink.flush(10)
            assert sink.outbox.dead_count() == 0
            sink.close()
        assert stored(larger)[v.id].clip == f"counter-1/{v.id}.mp4"
        assert (larger.state.settings.evidence_path / "counter-1" / f"{v.id}.mp4").read_bytes() == MP4
    finally:
        larger.state.db.dispose()


def test_dead_letter_count_reaches_prometheus(api: FastAPI, data_dir: Path) -> None:
    with ThreadServer(api) as server:
        sink = sink_for(server.port, data_dir)
        sink.publish(violation(camera="cam/with/slashes"))  # the pipeline takes it, the API refuses it (422)
        assert sink.flush(10) and sink.outbox.dead_count() == 1
        report = {"site": "site-a", "camera": "counter-1", "interval_s": 5, "analysed": 25}
        assert sink.post_metrics(report)
        text = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {INGEST_KEY}"}).text
        sink.close()
    assert 'tellerwatch_outbox_dead_letters{site="site-a"} 1.0' in text
    assert 'tellerwatch_outbox_pending{site="site-a"} 0.0' in text


def test_dead_letter_keeps_one_state_per_violation_and_a_newer_pending_state_wins(tmp_path: Path) -> None:
    box = Outbox(tmp_path / OUTBOX_FILE)
    rec = record()
    for state, files in ((rec, {"snapshot": "/s.jpg"}), (ended(rec), {})):
        box.put(state, files, fingerprint(state, files))
        item = box.next_due(time.time())
        assert item is not None
        box.dead(item, "HTTP 422: no", 422)
    (dead,) = box.dead_letters()
    assert dead.record["state"] == "ended" and box.pending_count() == 0
    assert dead.evidence == {"snapshot": "/s.jpg"}, "the newer refused state keeps the older one's files"
    newer = {**ended(rec), "duration_s": 99.0}
    box.put(newer, {}, fingerprint(newer, {}))
    assert box.retry_dead([rec["id"]]) == [rec["id"]]
    item = box.next_due(time.time())
    assert box.pending_count() == 1 and item is not None
    assert item.record["duration_s"] == 99.0 and item.evidence == {"snapshot": "/s.jpg"}
    assert box.dead_letters() == []
    box.close()


def test_outbox_written_by_an_older_version_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / OUTBOX_FILE
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE dead (id TEXT NOT NULL, record TEXT NOT NULL, error TEXT, at REAL NOT NULL)")
        db.execute("INSERT INTO dead VALUES ('old-1', ?, 'HTTP 400: bad', 1.0)", (json.dumps(record()),))
    box = Outbox(path)
    (dead,) = box.dead_letters()
    assert dead.id == "old-1" and dead.evidence == {} and dead.code is None
    assert box.drop_dead("old-1") and box.dead_count() == 0
    box.close()


def test_outbox_command_errors(data_dir: Path, tmp_path: Path) -> None:
    nothing = tellerwatch("outbox", "list", data=tmp_path / "nowhere")
    assert nothing.returncode == 2 and nothing.stderr.count("\n") == 1 and "no outbox at" in nothing.stderr

    box = Outbox(data_dir / OUTBOX_FILE)
    for vid in ("abc-1", "abc-2"):
        rec = record(id=vid)
        box.put(rec, {}, fingerprint(rec, {}))
        item = box.next_due(time.time())
        assert item is not None
        box.dead(item, "HTTP 409: clash", 409)
    box.close()
    for args, message in [
        (("retry",), "give a dead letter's id or --all"),
        (("retry", "abc-1", "--all"), "not both"),
        (("retry", "zzz"), "no dead letter with id 'zzz'"),
        (("retry", "abc"), "matches 2 dead letters"),
        (("drop", "nope"), "no dead letter with id 'nope'"),
    ]:
        r = tellerwatch("outbox", *args, data=data_dir)
        assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1, (args, r.stderr)
    dropped = tellerwatch("outbox", "drop", "abc-2", data=data_dir)
    assert dropped.returncode == 0 and "dropped abc-2" in dropped.stdout
    box = Outbox(data_dir / OUTBOX_FILE)
    assert [d.id for d in box.dead_letters()] == ["abc-1"]
    box.close()

    (data_dir / "broken").mkdir()
    (data_dir / "broken" / OUTBOX_FILE).write_bytes(b"this is not sqlite" * 100)
    broken = tellerwatch("outbox", "list", "--data-dir", str(data_dir / "broken"), data=data_dir)
    assert broken.returncode == 2 and "not a readable outbox" in broken.stderr and "Traceback" not in broken.stderr
