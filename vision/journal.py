"""A journal of the violations a running pipeline has open, so that a crash leaves none open.

A violation is filed when its grace runs out and ended when its condition clears; if the process
dies in between (SIGKILL, power loss, the OOM killer), the API would show it ``open`` for ever and
its clip would stay a ``.part`` file. So every violation change is written to a SQLite file under
the data dir (``journal.sqlite3``, WAL, ``synchronous=FULL`` for the records) before it goes to
the sinks, together with the time of the last frame each camera analysed (written at most once a
media second per camera while it has something open). A violation leaves the journal once its
final state, with its evidence, has been handed to the sinks.

At the next start ``recover`` closes what a previous run left behind: ``ended_at`` is the last
frame time seen for that camera, ``details.interrupted`` is true, the snapshot that exists is kept,
an unfinished clip is dropped (``details.evidence_error`` says so), and every stale ``.part`` file
under ``evidence/`` is removed. The runner sends these records through the sinks like any other.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from vision.events import Violation, ViolationState, iso_ms

log = logging.getLogger(__name__)

JOURNAL_FILE = "journal.sqlite3"
LOCK_FILE = "journal.lock"
SEEN_EVERY_S = 1.0  # media seconds between two writes of a camera's last frame time

SCHEMA = """
CREATE TABLE IF NOT EXISTS open_violations (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    camera TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS last_frame (
    site TEXT NOT NULL,
    camera TEXT NOT NULL,
    ts TEXT NOT NULL,
    PRIMARY KEY (site, camera)
);
"""


class Journal:
    """Thread-safe; one per data dir and process (camera threads share it).

    The process that holds ``journal.lock`` (an exclusive ``flock``, released by the kernel when
    the process dies, however it dies) owns what the journal holds from earlier runs. A second run
    started on the same data dir while the first is still running does not own it: recovering
    then would close the first run's live violations and delete its clips in progress.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / JOURNAL_FILE
        data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.owner = True
        except OSError:
            self.owner = False
            log.warning("another tellerwatch run is using %s; what it has open is left to it", data_dir)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._open: dict[tuple[str, str], set[str]] = {}  # (site, camera) -> open ids, this process
        self._seen: dict[tuple[str, str], datetime] = {}
        self._trouble = False

    @contextmanager
    def _write(self, *, durable: bool) -> Iterator[sqlite3.Connection]:
        with self._lock:
            # a record must survive power loss; a camera's last frame time may lag a little after one
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _failed(self, what: str, exc: sqlite3.Error) -> None:
        level = logging.DEBUG if self._trouble else logging.ERROR
        self._trouble = True
        log.log(level, "journal %s: %s not written: %s (a crash now would leave it open)", self.path, what, exc)

    # ------------------------------------------------------------------ while running

    def record(self, violation: Violation) -> None:
        """Remember a violation's latest state (open, or ended with its evidence still coming)."""
        key = (violation.site, violation.camera)
        try:
            with self._write(durable=True) as db:
                db.execute(
                    "INSERT INTO open_violations (id, site, camera, record) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET record = excluded.record",
                    (violation.id, violation.site, violation.camera, json.dumps(violation.to_json_dict())),
                )
                if violation.ended_at is None:
                    db.execute(
                        "INSERT INTO last_frame (site, camera, ts) VALUES (?, ?, ?) "
                        "ON CONFLICT(site, camera) DO UPDATE SET ts = MAX(ts, excluded.ts)",
                        (*key, iso_ms(violation.started_at + timedelta(seconds=violation.duration_s))),
                    )
        except sqlite3.Error as exc:
            self._failed(f"violation {violation.id}", exc)
            return
        with self._lock:
            self._open.setdefault(key, set()).add(violation.id)

    def forget(self, violation: Violation) -> None:
        """The violation's final state and evidence reached the sinks."""
        try:
            with self._write(durable=True) as db:
                db.execute("DELETE FROM open_violations WHERE id = ?", (violation.id,))
        except sqlite3.Error as exc:
            self._failed(f"the end of violation {violation.id}", exc)
            return
        with self._lock:
            self._open.get((violation.site, violation.camera), set()).discard(violation.id)

    def seen(self, site: str, camera: str, ts: datetime) -> None:
        """A frame of this camera was analysed at ``ts``; cheap when nothing is open."""
        key = (site, camera)
        with self._lock:
            if not self._open.get(key):
                return
            last = self._seen.get(key)
            if last is not None and (ts - last).total_seconds() < SEEN_EVERY_S:
                return
            self._seen[key] = ts
        try:
            with self._write(durable=False) as db:
                db.execute(
                    "INSERT INTO last_frame (site, camera, ts) VALUES (?, ?, ?) "
                    "ON CONFLICT(site, camera) DO UPDATE SET ts = excluded.ts",
                    (site, camera, iso_ms(ts)),
                )
        except sqlite3.Error as exc:
            self._failed(f"the last frame time of camera {camera}", exc)

    # ------------------------------------------------------------------ at start

    def left_open(self) -> list[Violation]:
        """What a previous run left in the journal, closed as interrupted (not yet forgotten);
        nothing where another live process owns the journal."""
        if not self.owner:
            return []
        with self._lock:
            rows = self._db.execute("SELECT id, site, camera, record FROM open_violations ORDER BY rowid").fetchall()
            seen = {(s, c): ts for s, c, ts in self._db.execute("SELECT site, camera, ts FROM last_frame")}
        out = []
        for vid, site, camera, text in rows:
            try:
                v = Violation.model_validate(json.loads(text))
            except ValueError as exc:  # a record this version cannot read: say so, drop it
                log.error("journal %s: violation %s unreadable, dropped: %s", self.path, vid, exc)
                self.forget_id(str(vid))
                continue
            last = seen.get((site, camera))
            last_ts = datetime.fromisoformat(last) if last else None
            out.append(interrupted(v, last_ts))
        return out

    def forget_id(self, vid: str) -> None:
        try:
            with self._write(durable=True) as db:
                db.execute("DELETE FROM open_violations WHERE id = ?", (vid,))
        except sqlite3.Error as exc:
            self._failed(f"violation {vid}", exc)

    def close(self) -> None:
        with self._lock:
            self._db.close()
        os.close(self._lock_fd)  # releases the flock


def interrupted(v: Violation, last_ts: datetime | None) -> Violation:
    """``v`` closed at ``last_ts`` (the last frame the dead run analysed), marked interrupted."""
    details = {**v.details, "interrupted": True}
    if v.state is ViolationState.ended and v.ended_at is not None:
        return v.model_copy(update={"details": details})  # ended; only its evidence was cut short
    end = v.started_at + timedelta(seconds=v.duration_s)
    if last_ts is not None:
        end = max(end, last_ts.astimezone(v.started_at.tzinfo))
    return v.model_copy(update={
        "state": ViolationState.ended,
        "ended_at": end,
        "duration_s": max((end - v.started_at).total_seconds(), 0.0),
        "details": details,
    })


def settle_evidence(v: Violation, data_dir: Path) -> Violation:
    """Keep the evidence files that exist in full; an unfinished clip is dropped (and said so)."""
    details = dict(v.details)
    errors = [details.pop("evidence_error")] if details.get("evidence_error") else []
    snapshot, clip = v.snapshot, v.clip
    if snapshot and not (data_dir / snapshot).is_file():
        snapshot = None
        errors.append("snapshot: not written before the pipeline stopped")
    if clip and not (data_dir / clip).is_file():
        clip = None
        errors.append("clip: not finished before the pipeline stopped (the partial file was removed)")
    annotated = details.get("clip_annotated")
    if isinstance(annotated, str) and not (data_dir / annotated).is_file():
        details.pop("clip_annotated")
    if errors:
        details["evidence_error"] = "; ".join(errors)
    return v.model_copy(update={"snapshot": snapshot, "clip": clip, "details": details})


def remove_partial_files(data_dir: Path) -> list[Path]:
    """``*.part`` files under ``evidence/`` left by a run that died while writing them (the API's
    own temporary files, ``.NAME.part``, are left alone: it may share the folder and be running)."""
    removed: list[Path] = []
    root = data_dir / "evidence"
    if not root.is_dir():
        return removed
    for part in root.rglob("*.part"):
        if part.name.startswith("."):
            continue
        try:
            part.unlink()
            removed.append(part)
        except OSError as exc:
            log.warning("cannot remove the partial file %s: %s", part, exc)
    return removed
