"""Tamper evidence: the pipeline hashes each finished clip and snapshot, the API refuses an upload
that does not match, and `tellerwatch verify` names every stored file that changed or vanished.
Real recorder output, pushed through the outbox to the real API served by uvicorn."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.models import Violation as ViolationRow
from api.settings import Settings
from tests.api.helpers import INGEST_KEY, JPEG, MP4, ThreadServer, ended, record, temporary_pg_database
from tests.vision.test_evidence import BASE, camera, run_stream
from tests.vision.test_evidence import violation as cam_violation
from vision.config import ApiSinkConfig
from vision.events import ChangeKind, Violation, ViolationChange
from vision.evidence import EvidenceRecorder
from vision.sinks import HttpSink

ROOT = Path(__file__).resolve().parents[2]
KEY_ENV = "TW_TEST_INTEGRITY_KEY"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def settings_for(data: Path, **kw: Any) -> Settings:
    return Settings(env="dev", data_dir=data, ingest_keys=INGEST_KEY, argon2_time_cost=1, argon2_memory_kib=64,
                    argon2_parallelism=1, **kw)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FastAPI]:
    app = create_app(settings_for(tmp_path / "api"))
    yield app
    app.state.db.dispose()


def tellerwatch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TELLERWATCH_")}
    return subprocess.run([sys.executable, "-m", "tellerwatch", *args], cwd=ROOT, env={**clean, **(env or {})},
                          capture_output=True, text=True, timeout=120)


def recorded_violations(data: Path) -> list[Violation]:
    """Two finished violations of the real evidence recorder, each with snapshot, clip and annotated clip."""
    cam = camera(pre_s=1, post_s=1)
    rec = EvidenceRecorder(cam, data, backpressure_s=10)
    changes = {}
    for vid, (a, b) in {"v-one": (2.0, 4.0), "v-two": (8.0, 10.0)}.items():
        changes[a + 1] = ViolationChange(kind=ChangeKind.started, violation=cam_violation(a, None, vid),
                                         worst_at=BASE + timedelta(seconds=a + 0.5))
        changes[b + 1] = ViolationChange(kind=ChangeKind.ended, violation=cam_violation(a, b, vid))
    done = run_stream(rec, cam, 14.0, changes)
    assert sorted(v.id for v in done) == ["v-one", "v-two"]
    return done


def push(app: FastAPI, data: Path, done: list[Violation], upload: bool = True) -> None:
    os.environ[KEY_ENV] = INGEST_KEY
    with ThreadServer(app) as server:
        cfg = ApiSinkConfig(url=server.url, key_env=KEY_ENV, timeout_s=5, upload_evidence=upload)
        sink = HttpSink(cfg, data / "box", backoff_initial_s=0.05, backoff_max_s=0.3)
        for v in done:
            files = {k: data / p for k, p in (("snapshot", v.snapshot), ("clip", v.clip)) if p}
            sink.publish(v, files)
        assert sink.flush(20)
        assert sink.outbox.dead_count() == 0
        sink.close()


def test_pipeline_hashes_finished_files_and_verify_names_what_changed(api: FastAPI, tmp_path: Path) -> None:
    box = tmp_path / "pipeline"
    done = recorded_violations(box)
    for v in done:
        for key, rel in (("snapshot_sha256", v.snapshot), ("clip_sha256", v.clip),
                         ("clip_annotated_sha256", v.details["clip_annotated"])):
            assert rel is not None and v.details[key] == sha((box / rel).read_bytes()), key
    push(api, box, done)

    evidence = api.state.settings.evidence_path
    with api.state.db.session() as s:
        rows = {r.id: r for r in s.query(ViolationRow).all()}
    assert set(rows) == {"v-one", "v-two"}
    for v in done:
        assert rows[v.id].details["clip_sha256"] == v.details["clip_sha256"]  # kept as sent
        assert rows[v.id].clip == f"cam-1/{v.id}.mp4"

    data_env = {"TELLERWATCH_DATA_DIR": str(tmp_path / "api")}
    good = tellerwatch("verify", env=data_env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "4 file(s) match their SHA-256" in good.stdout and "0 problem(s)" in good.stdout

    clip = evidence / "cam-1" / "v-one.mp4"
    raw = bytearray(clip.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one bit of one byte
    clip.write_bytes(bytes(raw))
    (evidence / "cam-1" / "v-two.jpg").unlink()

    bad = tellerwatch("verify", "--data-dir", str(tmp_path / "api"))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    lines = [line for line in bad.stdout.splitlines() if line.startswith(("differs", "missing"))]
    assert len(lines) == 2, bad.stdout
    assert lines[0].startswith("differs") and "cam-1/v-one.mp4" in lines[0] and "(violation v-one, clip)" in lines[0]
    assert lines[1].startswith("missing") and "cam-1/v-two.jpg" in lines[1] and "snapshot" in lines[1]
    assert "2 file(s) match their SHA-256" in bad.stdout and "2 problem(s)" in bad.stdout


def test_verify_on_postgresql_with_a_shared_folder(tmp_path: Path) -> None:
    """A pipeline sharing the API's data dir: the annotated clip is in the folder and is checked too."""
    with temporary_pg_database("tw_verify") as name:
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        data = tmp_path / "shared"
        app = create_app(settings_for(data, database_url=url))
        try:
            done = recorded_violations(data)
            push(app, data, done, upload=False)
        finally:
            app.state.db.dispose()
        env = {"TELLERWATCH_DATA_DIR": str(data)}
        good = tellerwatch("verify", "--database-url", url, env=env)
        assert good.returncode == 0 and "6 file(s) match" in good.stdout, good.stdout + good.stderr
        (data / "evidence" / "cam-1" / "v-two.annotated.mp4").unlink()
        bad = tellerwatch("verify", "--database-url", url, env=env)
        assert bad.returncode == 1
        (line,) = [x for x in bad.stdout.splitlines() if x.startswith("missing")]
        assert "evidence/cam-1/v-two.annotated.mp4" in line and "clip_annotated" in line


def post(server: ThreadServer, rec: dict[str, Any], files: dict[str, bytes]) -> httpx.Response:
    parts = {k: (f"x{'.jpg' if k == 'snapshot' else '.mp4'}", v) for k, v in files.items()}
    return httpx.post(server.url + "/api/v1/events", headers={"X-API-Key": INGEST_KEY},
                      data={"record": json.dumps(rec)}, files=parts, timeout=10)


def test_api_refuses_an_upload_that_does_not_match_its_hash(api: FastAPI) -> None:
    evidence = api.state.settings.evidence_path
    with ThreadServer(api) as server:
        rec = ended(record(details={"clip_sha256": sha(MP4), "snapshot_sha256": sha(JPEG)}))
        tampered = MP4[:-1] + bytes([MP4[-1] ^ 0xFF])
        r = post(server, rec, {"snapshot": JPEG, "clip": tampered})
        assert r.status_code == 422 and "clip_sha256" in r.text, r.text
        assert not list(evidence.rglob("*.*")), "nothing stored"
        with api.state.db.session() as s:
            assert s.get(ViolationRow, rec["id"]) is None

        not_hex = ended(record(details={"snapshot_sha256": "abc"}))
        r = post(server, not_hex, {"snapshot": JPEG})
        assert r.status_code == 422 and "64 lowercase hex" in r.text
        r = httpx.post(server.url + "/api/v1/events", headers={"X-API-Key": INGEST_KEY}, json=not_hex)
        assert r.status_code == 422

        r = post(server, rec, {"snapshot": JPEG, "clip": MP4})
        assert r.status_code == 201, r.text
    assert (evidence / "counter-1" / f"{rec['id']}.mp4").read_bytes() == MP4
    with api.state.db.session() as s:
        row = s.get(ViolationRow, rec["id"])
        assert row is not None and row.details["clip_sha256"] == sha(MP4)


def test_file_changed_on_the_box_is_parked_then_delivered_once_restored(
    api: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox and the hash together: a clip altered after the pipeline finished it is refused
    (422), kept in the dead letter, and delivered by `outbox retry` once the original is back."""
    box = tmp_path / "box"
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(MP4[:-10] + b"0123456789")
    rec = ended(record(details={"clip_sha256": sha(MP4)}))
    rec["clip"] = f"evidence/counter-1/{rec['id']}.mp4"  # the violation's own file, as the recorder names it
    v = Violation.model_validate(rec)
    monkeypatch.setenv(KEY_ENV, INGEST_KEY)
    with ThreadServer(api) as server:
        sink = HttpSink(ApiSinkConfig(url=server.url, key_env=KEY_ENV, timeout_s=5), box,
                        backoff_initial_s=0.05, backoff_max_s=0.3)
        sink.publish(v, {"clip": clip})
        assert sink.flush(10) and sink.outbox.dead_count() == 1
        clip.write_bytes(MP4)
        assert tellerwatch("outbox", "retry", "--all", env={"TELLERWATCH_DATA_DIR": str(box)}).returncode == 0
        assert sink.flush(10) and sink.outbox.dead_count() == 0
        sink.close()
    assert (api.state.settings.evidence_path / "counter-1" / f"{v.id}.mp4").read_bytes() == MP4


def test_verify_bad_input(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    cases = [
        (("verify", "--data-dir", str(tmp_path / "nowhere")), "no evidence folder"),
        (("verify", "--data-dir", str(tmp_path / "empty")), "no evidence folder"),
        (("verify", "--database-url", "nosuchdb://x/y"), "cannot use the database"),
        (("verify", "--database-url", "postgresql://postgres@127.0.0.1:1/none"), "cannot use the database"),
    ]
    (tmp_path / "data" / "evidence").mkdir(parents=True)
    for args, message in cases:
        r = tellerwatch(*args, env={"TELLERWATCH_DATA_DIR": str(tmp_path / "data")})
        assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1, (args, r.stderr)
    (tmp_path / "data" / "tellerwatch.sqlite3").write_bytes(b"not a database at all" * 50)
    r = tellerwatch("verify", env={"TELLERWATCH_DATA_DIR": str(tmp_path / "data")})
    assert r.returncode == 2 and "cannot use the database" in r.stderr and "Traceback" not in r.stderr
