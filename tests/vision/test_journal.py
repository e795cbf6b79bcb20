"""The journal of open violations (vision.journal) and the runner's recovery from it."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from vision.events import Violation
from vision.journal import Journal, remove_partial_files, settle_evidence
from vision.runner import JsonlWriter, ViolationRouter

T0 = datetime.fromisoformat("2026-11-26T09:00:00+08:00")


def violation(vid: str = "v1", camera: str = "cam", **kw: Any) -> Violation:
    base: dict[str, Any] = {
        "id": vid, "site": "b1", "camera": camera, "rule": "dual_teller", "zone": "desk", "state": "open",
        "started_at": T0, "duration_s": 2.0, "details": {"min_staff_seen": 0},
        "snapshot": f"evidence/{camera}/{vid}.jpg", "clip": f"evidence/{camera}/{vid}.mp4",
    }
    base.update(kw)
    return Violation.model_validate(base)


class ListSink:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.got: list[tuple[Violation, dict[str, Path] | None]] = []

    def publish(self, v: Violation, evidence: dict[str, Path] | None = None) -> None:
        if self.fail:
            raise OSError("disk full")
        self.got.append((v, evidence))


def test_open_violation_is_closed_at_the_last_frame_seen(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.record(violation())
    for s in range(2, 30):  # frames every 0.2 s up to 5.6 s; written at most once a media second
        j.seen("b1", "cam", T0 + timedelta(seconds=s / 5))
    j.seen("b1", "cam", T0 + timedelta(seconds=7.0))
    j.record(violation("v2", state="ended", ended_at=T0 + timedelta(seconds=4), duration_s=4.0))
    j.close()  # the process dies here: nothing forgotten

    j2 = Journal(tmp_path)
    left = {v.id: v for v in j2.left_open()}
    assert set(left) == {"v1", "v2"}
    v1 = left["v1"]
    assert v1.state.value == "ended" and v1.details["interrupted"] is True
    assert v1.ended_at == T0 + timedelta(seconds=7.0) and v1.duration_s == 7.0
    assert v1.details["min_staff_seen"] == 0
    v2 = left["v2"]  # ended already, only its evidence was cut short: its end stays
    assert v2.ended_at == T0 + timedelta(seconds=4) and v2.details["interrupted"] is True
    j2.forget(v1)
    assert [v.id for v in j2.left_open()] == ["v2"]
    j2.close()


def test_forgotten_violations_do_not_come_back(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    v = violation()
    j.record(v)
    j.forget(v.model_copy(update={"state": "ended", "ended_at": T0 + timedelta(seconds=3)}))
    j.close()
    j2 = Journal(tmp_path)
    assert j2.left_open() == []
    j2.close()


def test_a_second_live_run_on_the_same_data_dir_does_not_recover(tmp_path: Path) -> None:
    first = Journal(tmp_path)
    first.record(violation())
    part = tmp_path / "evidence" / "cam" / "v1.mp4.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"half a clip")
    second = Journal(tmp_path)
    assert first.owner and not second.owner
    router = ViolationRouter([ListSink()], JsonlWriter(None), True, tmp_path, second)
    assert router.recover() == [] and part.exists()  # the first run is still writing it
    second.close()
    first.close()
    third = Journal(tmp_path)
    assert third.owner and [v.id for v in third.left_open()] == ["v1"]
    third.close()


def test_recovery_sends_what_exists_and_drops_partial_files(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.record(violation())
    folder = tmp_path / "evidence" / "cam"
    folder.mkdir(parents=True)
    (folder / "v1.jpg").write_bytes(b"\xff\xd8 snapshot")
    for name in ("v1.mp4.part", "v1.annotated.mp4.part", ".api-temp.mp4.part"):
        (folder / name).write_bytes(b"partial")
    j.close()

    sink, broken = ListSink(), ListSink(fail=True)
    j2 = Journal(tmp_path)
    router = ViolationRouter([sink, broken], JsonlWriter(tmp_path / "ev.jsonl"), True, tmp_path, j2)
    (sent,) = router.recover()
    assert sorted(p.name for p in folder.iterdir()) == [".api-temp.mp4.part", "v1.jpg"]
    assert sent.snapshot == "evidence/cam/v1.jpg" and sent.clip is None
    assert "clip: not finished" in sent.details["evidence_error"]
    (got, evidence), = sink.got
    assert got.id == "v1" and evidence == {"snapshot": tmp_path / "evidence/cam/v1.jpg"}
    # one sink failed to take it: it stays in the journal for the next start
    assert [v.id for v in j2.left_open()] == ["v1"]
    router.events.close()
    j2.close()
    assert '"interrupted": true' in (tmp_path / "ev.jsonl").read_text()


def test_unreadable_rows_are_dropped(tmp_path: Path) -> None:
    Journal(tmp_path).close()
    with sqlite3.connect(str(tmp_path / "journal.sqlite3")) as db:
        db.execute("INSERT INTO open_violations VALUES ('x', 'b1', 'cam', '{\"id\": 5}')")
    j = Journal(tmp_path)
    assert j.left_open() == [] and j.left_open() == []
    j.close()


def test_settle_and_partial_files_without_evidence_dir(tmp_path: Path) -> None:
    assert remove_partial_files(tmp_path) == []
    v = settle_evidence(violation(details={"clip_annotated": "evidence/cam/v1.annotated.mp4"}), tmp_path)
    assert v.snapshot is None and v.clip is None and "clip_annotated" not in v.details
    assert "snapshot: not written" in v.details["evidence_error"]
