"""HTTP push to the TellerWatch API through a durable outbox.

Every change is first written to a SQLite table under the data dir, then a background thread
sends it. A row is forgotten only after the API has acknowledged it, so an API outage, a network
drop or a killed pipeline loses nothing: the next run sends what is left. The API is idempotent on
the violation id and never moves a violation backwards, so sending a row twice (a crash between
"sent" and "forgotten") has the effect of sending it once. Only the newest undelivered state of
each violation is kept; it supersedes older ones, which the API would discard anyway.
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
from contextlib import ExitStack
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
RETRYABLE = frozenset({401, 403, 404, 408, 425, 429, 500, 502, 503, 504})
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
CREATE TABLE IF NOT EXISTS dead (id TEXT NOT NULL, record TEXT NOT NULL, error TEXT, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: str
    seq: int
    record: dict[str, Any]
    evidence: dict[str, str]
    attempts: int


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
        self._db.execute("DELETE FROM delivered WHERE at < ?", (time.time() - DELIVERED_KEEP_S,))

    def put(self, record: dict[str, Any], evidence: dict[str, str], fingerprint: str) -> bool:
        """Queue a record; False when this exact state was delivered already and nothing is pending."""
        vid = str(record["id"])
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                pending = self._db.execute("SELECT fingerprint FROM pending WHERE id = ?", (vid,)).fetchone()
                if pending is None:
                    done = self._db.execute("SELECT fingerprint FROM delivered WHERE id = ?", (vid,)).fetchone()
                    if done is not None and done[0] == fingerprint:
                        self._db.execute("COMMIT")
                        return False
                elif pending[0] == fingerprint:
                    self._db.execute("COMMIT")
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
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return True

    def next_due(self, now: float) -> OutboxItem | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, seq, record, evidence, attempts FROM pending WHERE next_at <= ? ORDER BY seq LIMIT 1",
                (now,),
            ).fetchone()
        if row is None:
            return None
        return OutboxItem(row[0], row[1], json.loads(row[2]), json.loads(row[3] or "{}"), row[4])

    def seconds_to_next(self, now: float) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(next_at) FROM pending").fetchone()
        return None if row[0] is None else max(0.0, row[0] - now)

    def delivered(self, item: OutboxItem, fingerprint: str) -> None:
        """Forget the row, unless a newer state replaced it while it was in flight."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM pending WHERE id = ? AND seq = ?", (item.id, item.seq))
            self._db.execute(
                "INSERT INTO delivered (id, fingerprint, at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE "
                "SET fingerprint = excluded.fingerprint, at = excluded.at",
                (item.id, fingerprint, time.time()),
            )
            self._db.execute("COMMIT")

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

    def drop_evidence(self, item: OutboxItem) -> None:
        with self._lock:
            self._db.execute("UPDATE pending SET evidence = '{}' WHERE id = ? AND seq = ?", (item.id, item.seq))

    def dead(self, item: OutboxItem, error: str) -> None:
        """Park a record the API will never accept, where an engineer can look at it."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM pending WHERE id = ? AND seq = ?", (item.id, item.seq))
            self._db.execute(
                "INSERT INTO dead (id, record, error, at) VALUES (?, ?, ?, ?)",
                (item.id, json.dumps(item.record, ensure_ascii=False), error[:2000], time.time()),
            )
            self._db.execute("COMMIT")

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
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stats = {"queued": 0, "sent": 0, "retries": 0, "dead": 0, "skipped": 0}
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
        if self.outbox.put(record, files, fingerprint(record, files)):
            self.stats["queued"] += 1
            with self._cond:
                self._new = True
                self._cond.notify_all()
        else:
            self.stats["skipped"] += 1

    def publish_zone_counts(self, site: str, camera: str, counts: dict[str, int]) -> None:
        """Zone counts go to MQTT and the metrics report; the violations API does not store them."""

    def post_metrics(self, report: dict[str, Any]) -> bool:
        """Best effort, not queued: a missed report is superseded by the next one. Blocks up to
        ``timeout_s``, so call it from a reporting thread. Body: ``PipelineMetricsIn`` in api/schemas."""
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
        return self.outbox.pending_count()

    def flush(self, timeout: float) -> bool:
        """Ask the sender to try now (even if it is backing off) and wait until the outbox is empty."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._nudged = True
            self._cond.notify_all()
        while True:
            with self._cond:
                idle = not self._busy
            if idle and self.outbox.pending_count() == 0:
                return True
            left = deadline - time.monotonic()
            if left <= 0 or not self._thread.is_alive():
                return self.outbox.pending_count() == 0
            time.sleep(min(0.05, left))

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=self.cfg.timeout_s + 5)
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
            if nudged:
                self.outbox.make_due()
            item = self.outbox.next_due(time.time())
            if item is None:
                wait = self.outbox.seconds_to_next(time.time())
                with self._cond:
                    self._cond.wait_for(
                        lambda: self._stopping or self._nudged or self._new,
                        timeout=min(wait if wait is not None else 5.0, 5.0),
                    )
                continue
            with self._cond:
                self._busy = True
            try:
                delay = self._deliver(item)
            finally:
                with self._cond:
                    self._busy = False
            if delay > 0:
                with self._cond:
                    # new records do not cut a backoff short; flush and close do
                    self._cond.wait_for(lambda: self._stopping or self._nudged, timeout=delay)

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
        if code in (200, 201):
            self._failures = 0
            self.stats["sent"] += 1
            self.outbox.delivered(item, fp)
            return 0.0
        if code == 413 and files:
            log.warning("API refused the evidence of %s as too large; sending the record alone", item.id)
            self.outbox.drop_evidence(item)
            return 0.0
        if code in RETRYABLE:
            retry_after = _retry_after(response.headers.get("retry-after"))
            delay = self._backoff(retry_after)
            self.stats["retries"] += 1
            self.outbox.retry_later(item, delay, f"HTTP {code}: {response.text[:200]}")
            level = logging.ERROR if code in (401, 403) else logging.WARNING
            log.log(level, "API answered %d for %s; keeping it, next try in %.1f s", code, item.id, delay)
            return delay
        self.stats["dead"] += 1
        self.outbox.dead(item, f"HTTP {code}: {response.text[:1000]}")
        log.error(
            "API refused %s with %d (%s); parked in %s table 'dead'",
            item.id,
            code,
            response.text[:200],
            self.outbox.path,
        )
        return 0.0

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
