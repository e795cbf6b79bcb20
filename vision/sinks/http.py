"""HTTP push to the TellerWatch API through a durable outbox.

Every change is first written to a SQLite table under the data dir, then a background thread
sends it. A row is forgotten only after the API has acknowledged it, so an API outage, a network
drop or a killed pipeline loses nothing: the next run sends what is left. The API is idempotent on
the violation id and never moves a violation backwards, so sending a row twice (a crash between
"sent" and "forgotten") has the effect of sending it once. Only the newest undelivered state of
each violation is kept; it supersedes older ones, which the API would discard anyway.

An answer that will not change by asking again (a 4xx other than 401, 408, 425 and 429: the
record or its evidence is refused, the key may not write that site, the id clashes) moves the row
to the dead letter: the ``dead`` table of the same file, with the record, its evidence paths and
the API's answer. It stays there, counted in the metrics report, until ``tellerwatch outbox retry``
queues it again (once the cause is fixed) or ``tellerwatch outbox drop`` removes it. Network
errors, 401 (a wrong key, fixed by restarting with the right one), 408, 425, 429 and 5xx are
retried with capped exponential backoff, as long as it takes. A 413 sends the record alone at once
(operators see the violation) and parks a copy with its files in the dead letter, so the evidence
can follow once the API takes larger uploads.

A full disk stops clips, not violations: a state the outbox cannot store (SQLite "database or
disk is full") is held in memory and sent from there, with an error in the log. It survives an
API outage but not a pipeline restart, which is the best a full disk allows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from vision.config import ApiSinkConfig
from vision.errors import ConfigError
from vision.events import Violation

log = logging.getLogger(__name__)

OUTBOX_FILE = "outbox.sqlite3"
DELIVERED_KEEP_S = 7 * 86400  # remember delivered fingerprints this long, to skip exact re-publishes
# answers worth asking again: a wrong key (fixed by restarting with the right one), timeouts, rate
# limits; every 5xx is transient too. Any other 4xx is permanent and goes to the dead letter.
TRANSIENT_4XX = frozenset({401, 408, 425, 429})
SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    record TEXT NOT NULL,
    evidence TEXT,
    fingerprint TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    queued_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_due ON pending (next_at, seq);
CREATE TABLE IF NOT EXISTS delivered (id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS dead (id TEXT NOT NULL, record TEXT NOT NULL, error TEXT, at REAL NOT NULL,
    evidence TEXT, code INTEGER);
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def is_transient(code: int) -> bool:
    """True for a failure worth retrying with backoff (2xx is success, any other 4xx permanent)."""
    if 200 <= code < 300:
        return False
    return code in TRANSIENT_4XX or code >= 500 or code < 400


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: str
    seq: int
    record: dict[str, Any]
    evidence: dict[str, str]
    attempts: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A state the API refused for good; kept until retried or dropped by an engineer."""

    id: str
    record: dict[str, Any]
    evidence: dict[str, str]
    code: int | None
    error: str
    at: float


class Outbox:
    """The SQLite queue. Safe to share between threads; another process may open the same file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # an acknowledged publish survives power loss
        self._db.executescript(SCHEMA)
        self._upgrade()
        try:
            self._db.execute("DELETE FROM delivered WHERE at < ?", (time.time() - DELIVERED_KEEP_S,))
        except sqlite3.Error as exc:  # a full disk must not stop the pipeline from starting
            log.warning("outbox %s: old delivery records not pruned: %s", path, exc)

    def _upgrade(self) -> None:
        """Outboxes written by older versions: add the dead letter's evidence and status columns."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(dead)")}
        for column, kind in (("evidence", "TEXT"), ("code", "INTEGER")):
            if column not in have:
                self._db.execute(f"ALTER TABLE dead ADD COLUMN {column} {kind}")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT; on any error roll back if SQLite has not already done so
        (it does by itself on a full disk, and a second ROLLBACK would hide the real error behind
        "cannot rollback - no transaction is active" and leave the connection unusable)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def put(self, record: dict[str, Any], evidence: dict[str, str], fingerprint: str) -> bool:
        """Queue a record; False when this exact state was delivered already and nothing is pending.

        Raises ``sqlite3.Error`` when the record cannot be stored (a full disk)."""
        vid = str(record["id"])
        with self._transaction():
            pending = self._db.execute("SELECT fingerprint FROM pending WHERE id = ?", (vid,)).fetchone()
            if pending is None:
                done = self._db.execute("SELECT fingerprint FROM delivered WHERE id = ?", (vid,)).fetchone()
                if done is not None and done[0] == fingerprint:
                    return False
            elif pending[0] == fingerprint:
                return True
            self._db.execute(
                "INSERT INTO counter (name, value) VALUES ('seq', 1) "
                "ON CONFLICT(name) DO UPDATE SET value = value + 1"
            )
            seq = self._db.execute("SELECT value FROM counter WHERE name = 'seq'").fetchone()[0]
            self._db.execute(
                "INSERT INTO pending (id, seq, record, evidence, fingerprint, attempts, next_at, "
                "queued_at) VALUES (?, ?, ?, ?, ?, 0, 0, ?) ON CONFLICT(id) DO UPDATE SET "
                "seq = excluded.seq, record = excluded.record, evidence = excluded.evidence, "
                "fingerprint = excluded.fingerprint, attempts = 0, next_at = 0, last_error = NULL",
                (
                    vid,
                    seq,
                    json.dumps(record, ensure_ascii=False),
                    json.dumps(evidence),
                    fingerprint,
                    time.time(),
                ),
            )
        return True

    def next_due(self, now: float, skip: dict[str, int] | None = None) -> OutboxItem | None:
        """The oldest due row, other than the (id -> seq) rows in ``skip``."""
        skip = skip or {}
        with self._lock:
            rows = self._db.execute(
                "SELECT id, seq, record, evidence, attempts FROM pending WHERE next_at <= ? ORDER BY seq LIMIT ?",
                (now, 1 + len(skip)),
            ).fetchall()
        for row in rows:
            if skip.get(row[0]) != row[1]:
                return OutboxItem(row[0], row[1], json.loads(row[2]), json.loads(row[3] or "{}"), row[4])
        return None

    def seconds_to_next(self, now: float) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(next_at) FROM pending").fetchone()
        return None if row[0] is None else max(0.0, row[0] - now)

    def delivered(self, item: OutboxItem, fingerprint: str) -> None:
        """Forget the row, unless a newer state replaced it while it was in flight."""
        with self._transaction():
            self._db.execute("DELETE FROM pending WHERE id = ? AND seq = ?", (item.id, item.seq))
            self._db.execute(
                "INSERT INTO delivered (id, fingerprint, at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE "
                "SET fingerprint = excluded.fingerprint, at = excluded.at",
                (item.id, fingerprint, time.time()),
            )

    def retry_later(self, item: OutboxItem, delay_s: float, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE pending SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ? AND seq = ?",
                (time.time() + delay_s, error[:500], item.id, item.seq),
            )

    def make_due(self) -> None:
        """Cancel every row's backoff (a flush wants one more try now)."""
        with self._lock:
            self._db.execute("UPDATE pending SET next_at = 0 WHERE next_at > 0")

    def dead(self, item: OutboxItem, error: str, code: int | None = None, *, keep_pending: bool = False) -> None:
        """Park a state the API will not accept, with its evidence, where an engineer can look at
        it. One dead letter per violation: a newer refused state replaces an older one, and keeps
        the older one's files if it has none of its own.
        ``keep_pending`` parks a copy and sends the record on without its files (a 413)."""
        with self._transaction():
            evidence = item.evidence
            if not evidence:
                for (older,) in self._db.execute("SELECT evidence FROM dead WHERE id = ?", (item.id,)).fetchall():
                    evidence = json.loads(older or "{}") or evidence
            self._db.execute("DELETE FROM dead WHERE id = ?", (item.id,))
            self._db.execute(
                "INSERT INTO dead (id, record, evidence, code, error, at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    item.id,
                    json.dumps(item.record, ensure_ascii=False),
                    json.dumps(evidence),
                    code,
                    error[:2000],
                    time.time(),
                ),
            )
            if keep_pending:
                self._db.execute("UPDATE pending SET evidence = '{}' WHERE id = ? AND seq = ?", (item.id, item.seq))
            else:
                self._db.execute("DELETE FROM pending WHERE id = ? AND seq = ?", (item.id, item.seq))

    def dead_letters(self) -> list[DeadLetter]:
        """Oldest first; for ``tellerwatch outbox list``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, record, evidence, code, error, at FROM dead ORDER BY at, rowid"
            ).fetchall()
        return [
            DeadLetter(r[0], json.loads(r[1]), json.loads(r[2] or "{}"), r[3], r[4] or "", r[5]) for r in rows
        ]

    def retry_dead(self, ids: list[str] | None = None) -> list[str]:
        """Queue dead letters again (all of them with ``None``); the ids queued.

        A newer state of the same violation already waiting keeps its place and takes over the
        dead letter's files if it has none. The fingerprint of delivered states is not consulted:
        a retry is always sent."""
        queued: list[str] = []
        with self._transaction():
            rows = self._db.execute("SELECT rowid, id, record, evidence FROM dead ORDER BY at, rowid").fetchall()
            for rowid, vid, record_text, evidence_text in rows:
                if ids is not None and vid not in ids:
                    continue
                evidence = json.loads(evidence_text or "{}")
                pending = self._db.execute("SELECT evidence FROM pending WHERE id = ?", (vid,)).fetchone()
                if pending is not None:
                    if evidence and not json.loads(pending[0] or "{}"):
                        self._db.execute(
                            "UPDATE pending SET evidence = ?, next_at = 0 WHERE id = ?", (evidence_text, vid)
                        )
                else:
                    self._db.execute(
                        "INSERT INTO counter (name, value) VALUES ('seq', 1) "
                        "ON CONFLICT(name) DO UPDATE SET value = value + 1"
                    )
                    seq = self._db.execute("SELECT value FROM counter WHERE name = 'seq'").fetchone()[0]
                    self._db.execute(
                        "INSERT INTO pending (id, seq, record, evidence, fingerprint, attempts, next_at, queued_at) "
                        "VALUES (?, ?, ?, ?, ?, 0, 0, ?)",
                        (vid, seq, record_text, evidence_text or "{}",
                         fingerprint(json.loads(record_text), evidence), time.time()),
                    )
                self._db.execute("DELETE FROM dead WHERE rowid = ?", (rowid,))
                queued.append(vid)
        return queued

    def drop_dead(self, vid: str) -> bool:
        """Forget a dead letter for good; False when there is none with that id."""
        with self._transaction():
            return self._db.execute("DELETE FROM dead WHERE id = ?", (vid,)).rowcount > 0

    def pending_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM pending").fetchone()[0])

    def dead_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM dead").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def fingerprint(record: dict[str, Any], evidence: dict[str, str]) -> str:
    """Identifies one state of a violation plus the evidence files as they are now (a clip that is
    rewritten later with more footage has a new size, so it is sent again)."""
    h = hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode())
    for kind in sorted(evidence):
        p = Path(evidence[kind])
        try:
            st = p.stat()
            h.update(f"|{kind}={p}:{st.st_size}:{st.st_mtime_ns}".encode())
        except OSError:
            h.update(f"|{kind}={p}:missing".encode())
    return h.hexdigest()


class HttpSink:
    """Pushes violations to ``POST /api/v1/events`` through the outbox.

    ``backoff_initial_s`` doubles after each consecutive failure up to ``backoff_max_s`` (60 s),
    with jitter so that many branch boxes coming back after an outage do not hit the API in step.
    """

    def __init__(
        self,
        cfg: ApiSinkConfig,
        data_dir: str | Path,
        *,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 60.0,
        start: bool = True,
    ) -> None:
        key = os.environ.get(cfg.key_env, "").strip()
        if not key:
            raise ConfigError(
                f"sinks.api: the environment variable {cfg.key_env} is not set; "
                "set it to one of the API's TELLERWATCH_INGEST_KEYS"
            )
        if backoff_initial_s <= 0 or backoff_max_s < backoff_initial_s:
            raise ValueError(f"backoff must satisfy 0 < initial ({backoff_initial_s}) <= max ({backoff_max_s})")
        self.cfg = cfg
        base = cfg.url.rstrip("/")
        self.url = base + ("/events" if base.endswith("/api/v1") else "/api/v1/events")
        self.outbox = Outbox(Path(data_dir) / OUTBOX_FILE)
        # A backoff belongs to the process that measured it: a restarted pipeline (often restarted
        # because the network or the API came back) tries what the last one left at once, instead
        # of waiting out that process's next_at (up to backoff_max_s).
        try:
            self.outbox.make_due()
            dead = self.outbox.dead_count()
        except sqlite3.Error as exc:
            log.warning("outbox %s: %s", self.outbox.path, exc)
            dead = 0
        if dead:
            log.warning("outbox %s: %d violation state(s) the API refused wait in the dead letter; "
                        "see `tellerwatch outbox list`", self.outbox.path, dead)
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stats = {"queued": 0, "sent": 0, "retries": 0, "dead": 0, "skipped": 0, "held": 0}
        # violation id -> (record, evidence): states the outbox could not store (full disk)
        self._held: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}
        # rows the API took but the outbox could not forget (full disk): id -> (seq, fingerprint)
        self._unrecorded: dict[str, tuple[int, str]] = {}
        self._next_forget = 0.0
        self._disk_trouble = False
        self._client = httpx.Client(
            timeout=cfg.timeout_s, headers={"X-API-Key": key, "User-Agent": "tellerwatch-pipeline"}
        )
        self._cond = threading.Condition()
        self._stopping = False
        self._nudged = False
        self._new = False
        self._failures = 0
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="tellerwatch-http-sink", daemon=True)
        if start:
            self._thread.start()

    # ------------------------------------------------------------------ pipeline side

    def publish(self, violation: Violation, evidence: dict[str, Path] | None = None) -> None:
        record = violation.to_json_dict()
        files = (
            {
                k: str(Path(v).resolve())
                for k, v in (evidence or {}).items()
                if k in ("snapshot", "clip") and v is not None
            }
            if self.cfg.upload_evidence
            else {}
        )
        try:
            stored = self.outbox.put(record, files, fingerprint(record, files))
        except sqlite3.Error as exc:
            self._hold(record, files, exc)
            return
        self._disk_trouble = False
        with self._cond:
            self._held.pop(violation.id, None)  # superseded by the state the outbox now holds
            self._new = self._new or stored
            self._cond.notify_all()
        self.stats["queued" if stored else "skipped"] += 1

    def _hold(self, record: dict[str, Any], files: dict[str, str], exc: sqlite3.Error) -> None:
        with self._cond:
            self._held[str(record["id"])] = (record, files)
            self._new = True
            self._cond.notify_all()
        self.stats["held"] += 1
        self._disk_error(exc, f"violation {record['id']} is held in memory until the API takes it "
                              "(lost if the pipeline stops first)")

    def _disk_error(self, exc: sqlite3.Error, what: str) -> None:
        """One error per spell of disk trouble (it may last all night), debug lines after that."""
        level = logging.DEBUG if self._disk_trouble else logging.ERROR
        self._disk_trouble = True
        log.log(level, "outbox %s: %s; %s; free disk space", self.outbox.path, exc, what)

    def publish_zone_counts(self, site: str, camera: str, counts: dict[str, int]) -> None:
        """Zone counts go to MQTT and the metrics report; the violations API does not store them."""

    def post_metrics(self, report: dict[str, Any]) -> bool:
        """Best effort, not queued: a missed report is superseded by the next one. Blocks up to
        ``timeout_s``, so call it from a reporting thread. Body: ``PipelineMetricsIn`` in api/schemas,
        with this box's outbox added (``outbox_pending``, ``outbox_dead``: states waiting, and states
        refused for good that wait for ``tellerwatch outbox retry`` or ``drop``)."""
        try:
            report = {**report, "outbox_pending": self.pending(), "outbox_dead": self.outbox.dead_count()}
        except sqlite3.Error as exc:  # the report goes without them rather than not at all
            log.debug("outbox %s: counts not reported: %s", self.outbox.path, exc)
        return self._best_effort("metrics/pipeline", json=report)

    def post_frame(self, site: str, camera: str, jpeg: bytes) -> bool:
        """Best effort: the latest frame for the zone editor (``GET /cameras/{id}/snapshot``)."""
        return self._best_effort(
            f"cameras/{camera}/frame", params={"site": site}, content=jpeg, headers={"Content-Type": "image/jpeg"}
        )

    def _best_effort(self, route: str, **kwargs: Any) -> bool:
        url = self.url.removesuffix("events") + route
        try:
            response = self._client.post(url, **kwargs)
        except httpx.TransportError as exc:
            log.debug("POST %s failed: %s", route, exc)
            return False
        if response.status_code >= 300:
            log.warning("API refused %s: %d %s", route, response.status_code, response.text[:200])
        return response.status_code < 300

    def pending(self) -> int:
        """Undelivered violation states: in the outbox, and held in memory (full disk)."""
        with self._cond:
            held, sent = len(self._held), len(self._unrecorded)
        return max(0, self.outbox.pending_count() - sent) + held

    def flush(self, timeout: float) -> bool:
        """Ask the sender to try now (even if it is backing off) and wait until the outbox is empty."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._nudged = True
            self._cond.notify_all()
        while True:
            with self._cond:
                idle = not self._busy
            if idle and self.pending() == 0:
                return True
            left = deadline - time.monotonic()
            if left <= 0 or not self._thread.is_alive():
                return self.pending() == 0
            time.sleep(min(0.05, left))

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=self.cfg.timeout_s + 5)
        if self._held:
            log.error("%d violation state(s) held in memory while the disk was full were not delivered and "
                      "are lost: %s", len(self._held), ", ".join(sorted(self._held)))
        self._client.close()
        self.outbox.close()

    # ------------------------------------------------------------------ sender thread

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                nudged = self._nudged
                self._nudged = self._new = False
                held = next(iter(self._held.items()), None)
            if self._unrecorded and time.monotonic() >= self._next_forget:
                self._next_forget = time.monotonic() + 5.0
                try:
                    self._forget_unrecorded()
                except sqlite3.Error as exc:
                    self._disk_error(exc, "retrying")
            try:
                if nudged:
                    self.outbox.make_due()
                item = None if held is not None else self.outbox.next_due(time.time(), self._skip())
                wait = None if held is not None or item is not None else self.outbox.seconds_to_next(time.time())
                if wait is not None and wait <= 0 and self._unrecorded:
                    wait = 1.0  # only rows already delivered are due: retry forgetting them later
            except sqlite3.Error as exc:  # the sender must outlive a sick disk
                self._disk_error(exc, "retrying")
                held, item, wait = None, None, 1.0
            if held is None and item is None:
                with self._cond:
                    self._cond.wait_for(
                        lambda: self._stopping or self._nudged or self._new,
                        timeout=min(wait if wait is not None else 5.0, 5.0),
                    )
                continue
            with self._cond:
                self._busy = True
            try:
                delay = self._deliver_held(*held) if held is not None else self._deliver(item)  # type: ignore[arg-type]
            except sqlite3.Error as exc:
                # the row stays and goes again later; the API acknowledges a repeat
                self._disk_error(exc, "retrying")
                delay = 1.0
            finally:
                with self._cond:
                    self._busy = False
            if delay > 0:
                with self._cond:
                    # new records do not cut a backoff short; flush and close do
                    self._cond.wait_for(lambda: self._stopping or self._nudged, timeout=delay)

    def _skip(self) -> dict[str, int]:
        with self._cond:
            return {vid: seq for vid, (seq, _) in self._unrecorded.items()}

    def _forget_unrecorded(self) -> None:
        with self._cond:
            rows = list(self._unrecorded.items())
        for vid, (seq, fp) in rows:
            self.outbox.delivered(OutboxItem(vid, seq, {}, {}, 0), fp)  # raises while the disk is full
            with self._cond:
                if self._unrecorded.get(vid) == (seq, fp):
                    del self._unrecorded[vid]
        self._disk_trouble = False

    def _deliver_held(self, vid: str, entry: tuple[dict[str, Any], dict[str, str]]) -> float:
        """Send a state held in memory; the seconds to wait before the next attempt."""
        record, evidence = entry
        try:
            response = self._post(record, {k: Path(p) for k, p in evidence.items() if Path(p).is_file()})
        except httpx.TransportError as exc:
            self.stats["retries"] += 1
            log.warning("API unreachable (%s); %d event(s) held in memory", type(exc).__name__, len(self._held))
            return self._backoff()
        code = response.status_code
        if code == 413 and evidence:
            with self._cond:
                if self._held.get(vid) is entry:
                    self._held[vid] = (record, {})
            self._park(OutboxItem(vid, 0, record, evidence, 0), response, keep_pending=True, held=True)
            return 0.0
        if is_transient(code):
            self.stats["retries"] += 1
            return self._backoff(_retry_after(response.headers.get("retry-after")))
        with self._cond:
            if self._held.get(vid) is entry:  # not replaced by a newer state meanwhile
                del self._held[vid]
        if 200 <= code < 300:
            self._failures = 0
            self.stats["sent"] += 1
        else:
            self._park(OutboxItem(vid, 0, record, evidence, 0), response, held=True)
        return 0.0

    def _backoff(self, retry_after: float | None = None) -> float:
        self._failures += 1
        ceiling = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (self._failures - 1))
        delay = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            delay = min(self.backoff_max_s, max(delay, retry_after))
        return delay

    def _deliver(self, item: OutboxItem) -> float:
        """Send one row; the seconds to wait before the next attempt (0: go on at once)."""
        files = {k: Path(p) for k, p in item.evidence.items() if Path(p).is_file()}
        fp = fingerprint(item.record, item.evidence)
        try:
            response = self._post(item.record, files)
        except httpx.TransportError as exc:
            delay = self._backoff()
            self.stats["retries"] += 1
            self.outbox.retry_later(item, delay, f"{type(exc).__name__}: {exc}")
            log.warning(
                "API unreachable (%s); %d event(s) waiting, next try in %.1f s",
                type(exc).__name__,
                self.outbox.pending_count(),
                delay,
            )
            return delay
        code = response.status_code
        if 200 <= code < 300:
            self._failures = 0
            self.stats["sent"] += 1
            try:
                self.outbox.delivered(item, fp)
            except sqlite3.Error as exc:
                # skip the row from now on, or it would be re-sent, and block the others, for as
                # long as the disk stays full; forgotten once it can be written again
                with self._cond:
                    self._unrecorded[item.id] = (item.seq, fp)
                self._disk_error(exc, "a delivered event could not be marked as such")
            return 0.0
        if code == 413 and files:
            self._park(item, response, keep_pending=True)
            return 0.0
        if is_transient(code):
            retry_after = _retry_after(response.headers.get("retry-after"))
            delay = self._backoff(retry_after)
            self.stats["retries"] += 1
            self.outbox.retry_later(item, delay, f"HTTP {code}: {response.text[:200]}")
            level = logging.ERROR if code == 401 else logging.WARNING
            log.log(level, "API answered %d for %s; keeping it, next try in %.1f s", code, item.id, delay)
            return delay
        self._park(item, response)
        return 0.0

    def _park(self, item: OutboxItem, response: httpx.Response, *, keep_pending: bool = False,
              held: bool = False) -> None:
        """Move a permanently refused state to the dead letter (with a 413: a copy with its files,
        while the record goes on alone). Raises ``sqlite3.Error`` on a full disk, except for a
        state that was held in memory because of it: that one can only be logged."""
        code = response.status_code
        self.stats["dead"] += 1
        try:
            self.outbox.dead(item, f"HTTP {code}: {response.text[:1000]}", code, keep_pending=keep_pending and not held)
        except sqlite3.Error as exc:
            if not held:
                raise
            self._disk_error(exc, f"refused violation {item.id} ({code}) is not kept")
            return
        what = "its evidence" if keep_pending else "it"
        log.error(
            "API refused %s with %d (%s); %s is kept in the dead letter of %s (see `tellerwatch outbox list`)",
            item.id, code, response.text[:200], what, self.outbox.path,
        )

    def _post(self, record: dict[str, Any], files: dict[str, Path]) -> httpx.Response:
        if not files:
            return self._client.post(self.url, json=record)
        with ExitStack() as stack:
            parts = {
                kind: (
                    path.name,
                    stack.enter_context(path.open("rb")),
                    mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                )
                for kind, path in files.items()
            }
            return self._client.post(self.url, data={"record": json.dumps(record, ensure_ascii=False)}, files=parts)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
