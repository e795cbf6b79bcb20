"""Live-stream fan-out across API replicas through PostgreSQL LISTEN/NOTIFY.

Each replica delivers its own changes to its own subscribers at once (``Broadcaster.publish``)
and hands them to this relay, which sends them with ``pg_notify`` on one connection and receives
every other replica's on a second, listening one. A notification carries the message itself when
it fits NOTIFY's 8000-byte payload limit, otherwise only the violation id: the receiver then loads
the row (its newest state) from the database. A replica skips the notifications it sent itself.

PostgreSQL forgets notifications sent while a listener is disconnected, so when the listening
connection comes back (fail-over, a restarted server, ``pg_terminate_backend``) every local
subscriber is sent a ``dropped`` event, on which the review page reloads its queue. Both
connections reconnect with exponential backoff and use TCP keepalives, so a server that vanished
without closing the socket is noticed within about half a minute.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from api.db import Database
from api.live import Broadcaster, LiveMessage
from api.models import Violation
from api.schemas import ViolationPublic

log = logging.getLogger("tellerwatch.api.fanout")

CHANNEL = "tellerwatch_live"
# NOTIFY refuses payloads of 8000 bytes or more; keep a margin
MAX_PAYLOAD_BYTES = 7900
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


def libpq_dsn(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://...`` (SQLAlchemy) -> ``postgresql://...`` (libpq)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def encode(msg: LiveMessage, origin: str) -> str:
    head = {"o": origin, "s": msg.site, "c": msg.camera, "e": msg.event}
    full = json.dumps({**head, "d": msg.data}, ensure_ascii=False, separators=(",", ":"))
    if len(full.encode()) <= MAX_PAYLOAD_BYTES:
        return full
    return json.dumps({**head, "ref": str(msg.data.get("id", ""))[:64]}, separators=(",", ":"))


class Backoff:
    def __init__(self, first_s: float = 0.1, max_s: float = 5.0) -> None:
        self.first_s, self.max_s = first_s, max_s
        self.next_s = first_s

    def reset(self) -> None:
        self.next_s = self.first_s

    def wait(self, stop: threading.Event) -> None:
        stop.wait(self.next_s)
        self.next_s = min(self.next_s * 2, self.max_s)


class PgRelay:
    """Sends this replica's live messages to the others and delivers theirs locally."""

    def __init__(
        self,
        dsn: str,
        broadcaster: Broadcaster,
        load: Callable[[str], dict[str, Any] | None],
        backoff_max_s: float = 5.0,
        queue_size: int = 10_000,
    ) -> None:
        self.dsn = dsn
        self.broadcaster = broadcaster
        self.load = load
        self.origin = uuid.uuid4().hex[:16]
        self.backoff_max_s = backoff_max_s
        self._out: queue.Queue[LiveMessage] = queue.Queue(queue_size)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self.listening = threading.Event()  # set while the LISTEN connection is up
        self.listener_pid: int | None = None  # its server backend, for operators and tests
        self.reconnects = 0
        self.dropped = 0

    def _connect(self, role: str) -> psycopg.Connection[Any]:
        conninfo = make_conninfo(self.dsn, connect_timeout=5, application_name=f"tellerwatch-live-{role}", **KEEPALIVES)
        return psycopg.connect(conninfo, autocommit=True)

    # -- life cycle -------------------------------------------------------------------------------
    def start(self) -> None:
        with self._start_lock:
            if self._threads:
                return
            self._stop.clear()
            for target, name in ((self._listen_loop, "tw-live-listen"), (self._send_loop, "tw-live-notify")):
                t = threading.Thread(target=target, name=name, daemon=True)
                t.start()
                self._threads.append(t)

    def stop(self, timeout_s: float = 3.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout_s)
        self._threads = []

    # -- sending ----------------------------------------------------------------------------------
    def send(self, msg: LiveMessage) -> None:
        """Safe to call from any thread and from the event loop: never blocks."""
        self.start()
        try:
            self._out.put_nowait(msg)
        except queue.Full:
            self.dropped += 1
            log.warning("live relay queue full; a change reaches only this replica's subscribers")

    def _send_loop(self) -> None:
        backoff = Backoff(max_s=self.backoff_max_s)
        pending: LiveMessage | None = None
        while not self._stop.is_set():
            try:
                with self._connect("notify") as conn:
                    backoff.reset()
                    while not self._stop.is_set():
                        if pending is None:
                            try:
                                pending = self._out.get(timeout=0.5)
                            except queue.Empty:
                                continue
                        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, encode(pending, self.origin)))
                        pending = None
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                # the connection went away: the message that failed is sent again on the next one
                log.warning("live relay: NOTIFY connection lost (%s); reconnecting", _first_line(exc))
                backoff.wait(self._stop)
            except psycopg.Error as exc:
                # the server refused this message itself: sending it again would block the rest
                log.warning("live relay: NOTIFY refused a message (%s); it reached this replica only", _first_line(exc))
                self.dropped += 1
                pending = None

    # -- receiving --------------------------------------------------------------------------------
    def _listen_loop(self) -> None:
        backoff = Backoff(max_s=self.backoff_max_s)
        first = True
        while not self._stop.is_set():
            try:
                with self._connect("listen") as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listener_pid = conn.info.backend_pid
                    self.listening.set()
                    backoff.reset()
                    if not first:
                        self.reconnects += 1
                        log.info("live relay: listening again; subscribers are told to reload")
                        self.broadcaster.announce_gap()
                    first = False
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._deliver(note.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                if self._stop.is_set():
                    return
                log.warning("live relay: LISTEN connection lost (%s); reconnecting", _first_line(exc))
                backoff.wait(self._stop)
        self.listening.clear()

    def _deliver(self, payload: str) -> None:
        try:
            obj = json.loads(payload)
            if obj.get("o") == self.origin:
                return
            site, camera, event = str(obj["s"]), str(obj["c"]), str(obj["e"])
            data = obj.get("d")
            if data is None:
                data = self.load(str(obj["ref"]))
                if data is None:
                    return
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("live relay: ignored a malformed notification on %s", CHANNEL)
            return
        except SQLAlchemyError as exc:
            log.warning("live relay: could not load violation %s (%s)", obj.get("ref"), _first_line(exc))
            self.broadcaster.announce_gap()
            return
        if isinstance(data, dict):
            self.broadcaster.deliver(LiveMessage(site, camera, event, data))


def violation_loader(db: Database) -> Callable[[str], dict[str, Any] | None]:
    """Loads a violation's newest state, for notifications that carried only its id."""

    def load(violation_id: str) -> dict[str, Any] | None:
        with db.session() as session:
            row = session.get(Violation, violation_id)
            return ViolationPublic.from_row(row).model_dump(mode="json") if row is not None else None

    return load


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
