"""Per-camera evidence: a snapshot and raw + annotated clips for every violation.

The analysis thread only hands frames over (``add_frame`` appends to a short queue and returns);
one background thread per camera JPEG-compresses them into the ring buffer and encodes clips.
That thread interleaves the two: after each frame it takes in it encodes at most
``ENCODE_PER_FRAME`` clip frames (all it can when the queue is empty), so a clip catches up on a
35 s pre-roll at twice the source rate while taking in frames keeps priority. A clip is encoded ``hold_s`` behind
the newest frame: a rule reports a violation's end ``clear_s`` after it cleared, and by then no
frame past ``ended_at + post_s`` may be in the clip yet.

Nothing here raises into the pipeline: a failed snapshot or clip is logged and written into the
violation's ``details["evidence_error"]``, and the violation itself is always handed back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from vision.config import CameraConfig
from vision.dropqueue import DropOldest
from vision.events import ChangeKind, Violation, ViolationChange, iso_ms
from vision.evidence.mp4 import ClipStats, ClipWriter
from vision.evidence.overlay import Focus, Overlay, Renderer
from vision.evidence.retention import apply_retention
from vision.evidence.ring import BufferedFrame, FrameRing, encode_jpeg, prepare_image
from vision.frames import Frame

log = logging.getLogger(__name__)

RETENTION_EVERY_S = 600.0
SNAPSHOT_REWRITE_S = 2.0
ENCODE_PER_FRAME = 2  # clip frames encoded per frame taken in while frames keep arriving
# what a failing disk, a full disk or a codec can raise while writing evidence
_WRITE_ERRORS = (OSError, av.FFmpegError, cv2.error, ValueError, RuntimeError)


@dataclass(frozen=True, slots=True)
class EvidencePaths:
    """Where a violation's evidence lives, relative to the data dir (as the record carries it)."""

    snapshot: str
    clip: str
    clip_annotated: str

    @classmethod
    def for_violation(cls, camera_id: str, violation_id: str) -> EvidencePaths:
        base = f"evidence/{camera_id}/{violation_id}"
        return cls(f"{base}.jpg", f"{base}.mp4", f"{base}.annotated.mp4")


@dataclass(slots=True)
class RecorderStats:
    """Counters for the benchmark and /metrics: what the recorder did and what it dropped."""

    frames_in: int = 0
    frames_dropped: int = 0  # queue full: the worker fell behind (oldest dropped)
    frames_buffered: int = 0
    clips_written: int = 0
    snapshots_written: int = 0
    errors: int = 0
    ring_frames: int = 0
    ring_bytes: int = 0
    jpeg_ms: float = 0.0
    encode_ms: float = 0.0


@dataclass(slots=True)
class _FrameItem:
    frame: Frame
    overlay: Overlay
    analysed: bool = True


@dataclass(slots=True)
class _ChangeItem:
    kind: ChangeKind
    violation: Violation
    worst_at: datetime | None


@dataclass(slots=True)
class _CloseItem:
    pass


_Item = _FrameItem | _ChangeItem | _CloseItem


@dataclass
class _Clip:
    """The two clips of one violation as they are written: frames waiting, how far they go, how
    it went."""

    raw: ClipWriter
    annotated: ClipWriter
    pending: deque[BufferedFrame] = field(default_factory=deque)
    end_limit: datetime | None = None  # last frame time for ended_at + post_s, once the end is known
    ended: bool = False
    done: bool = False
    failed: bool = False
    truncated: bool = False
    stats: ClipStats | None = None
    dropped_at_start: int = 0
    overflow: int = 0
    pre_note: str | None = None
    plain: bool = False  # drawing failed once: stop trying
    overlay_error: str | None = None


@dataclass
class _Snapshot:
    """The choice of one violation's snapshot: the clearest frame so far and what was written."""

    target: datetime | None = None  # fallback target when no frame carries a clarity score
    best: BufferedFrame | None = None
    score: tuple[float, ...] | None = None  # clarity of ``best`` (scored frames only)
    dirty: bool = False
    written: BufferedFrame | None = None
    written_at: float = 0.0  # time.monotonic() of the last write
    failed: bool = False


@dataclass
class _Job:
    """One violation's evidence in progress; touched by the worker thread only."""

    violation: Violation
    paths: EvidencePaths
    clip_from: datetime  # started_at - pre_s
    grace_s: float
    clip: _Clip
    snap: _Snapshot = field(default_factory=_Snapshot)
    errors: list[str] = field(default_factory=list)


class EvidenceRecorder:
    """Snapshot and clips for one camera's violations; see the module docstring for the threads.

    Frame images handed to ``add_frame`` are read later by the worker: the caller must not write
    into them afterwards (sources hand out a fresh array per frame).

    When the worker falls behind, a live camera's oldest queued frame is dropped (counted in
    ``stats()`` and the clip's ``details["clip_dropped_frames"]``): detection must not wait for
    evidence. A file source has no real time to keep, and replays faster than real time, so there
    ``add_frame`` waits up to ``backpressure_s`` (default 2 s; 0 for live cameras) for room instead.
    ``protected`` names further violation ids that periodic retention must keep (e.g. under review).
    """

    def __init__(
        self,
        camera: CameraConfig,
        data_dir: Path,
        *,
        enabled: bool = True,
        site: str | None = None,
        protected: Callable[[], Collection[str]] | None = None,
        backpressure_s: float | None = None,
    ) -> None:
        self.camera = camera
        self.cfg = camera.evidence
        self.data_dir = Path(data_dir)
        self.dir = self.data_dir / "evidence" / camera.id
        self.enabled = enabled
        self.site = site
        self._protected = protected
        self.analysis_interval_s = 1.0 / camera.analysis_fps
        max_grace = max((r.grace_s for r in camera.rules), default=0.0)
        max_clear = max((r.clear_s for r in camera.rules), default=3.0)
        # encode this far behind the newest frame: an end is reported clear_s after it happened
        self.hold_s = max_clear + 1.0 + self.analysis_interval_s
        wanted = self.cfg.pre_s + max(max_grace, self.hold_s) + 1.0
        self.span_s = max(min(wanted, self.cfg.buffer_max_s), self.hold_s + 1.0)
        # frames may be dropped when the worker falls behind; violation changes never are
        self._inbox: DropOldest[_Item] = DropOldest(3, lambda item: isinstance(item, _FrameItem))
        self.set_source_fps(camera.analysis_fps)
        self.source_fps_known = False
        if backpressure_s is None:
            backpressure_s = 0.0 if camera.is_live else 2.0
        if backpressure_s < 0:
            raise ValueError(f"backpressure_s must be >= 0; got {backpressure_s}")
        self.backpressure_s = backpressure_s

        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._finished: list[Violation] = []
        self._notes: dict[str, dict[str, Any]] = {}
        self._missing: dict[str, set[str]] = {}
        self._open_ids: set[str] = set()
        self._stats = RecorderStats()
        # worker-only state
        self._jobs: dict[str, _Job] = {}
        self._renderers: dict[tuple[int, int], Renderer] = {}
        self._decoded: dict[int, np.ndarray] = {}
        self._next_retention = 0.0
        self._closing = False
        self._done: set[str] = set()
        self._done_order: deque[str] = deque()

    # ------------------------------------------------------------------ the pipeline's side

    def set_source_fps(self, fps: float) -> None:
        """Clips carry every source frame: size the ring, the queue and the clip rate for ``fps``.

        Called before the first frame (the source's rate is known once it is open); until then
        the analysis rate is assumed. Rates below the analysis rate are raised to it.
        """
        fps = max(float(fps), self.camera.analysis_fps) if fps and fps > 0 else self.camera.analysis_fps
        fps = min(fps, 120.0)
        self.source_fps = fps
        self.source_fps_known = True
        self.frame_interval_s = 1.0 / fps
        max_frames = FrameRing.frames_for(self.span_s, fps)
        ring = getattr(self, "ring", None)
        if ring is None:
            self.ring = FrameRing(self.span_s, max_frames)
        else:
            ring.max_frames = max_frames
        self._inbox.max_droppable = self.max_queued_frames = max(3, math.ceil(fps / 2))
        self.max_job_backlog = 2 * max_frames

    def add_frame(self, frame: Frame, overlay: Overlay | None = None, *, analysed: bool = True) -> None:
        """Queue a frame for the ring buffer: O(1); waits only for a file source (see the class).

        ``analysed=False`` marks a frame the pipeline did not analyse (between two analysed ones):
        it goes into the clips with the last analysed frame's overlay, but is never the snapshot.
        """
        if not self.enabled:
            return
        with self._cond:
            if self._closed:
                return
            self._stats.frames_in += 1
            if self._inbox.full() and self.backpressure_s > 0:
                self._ensure_thread()
                self._cond.wait_for(lambda: not self._inbox.full() or self._closed, timeout=self.backpressure_s)
                if self._closed:
                    return
            if self._inbox.append(_FrameItem(frame, overlay if overlay is not None else Overlay(), analysed)):
                self._stats.frames_dropped += 1
            self._ensure_thread()
            self._cond.notify_all()

    def on_change(self, change: ViolationChange) -> Violation:
        """The violation with its evidence paths filled in; the files appear once written."""
        v = change.violation
        if not self.enabled:
            return v
        paths = EvidencePaths.for_violation(self.camera.id, v.id)
        with self._cond:
            details = {**v.details, "clip_annotated": paths.clip_annotated, **self._notes.get(v.id, {})}
            missing = self._missing.get(v.id, set())
            out = v.model_copy(update={
                "snapshot": None if "snapshot" in missing else paths.snapshot,
                "clip": None if "clip" in missing else paths.clip,
                "details": details,
            })
            if self._closed:
                log.warning("evidence recorder for %s is closed; violation %s gets no new evidence",
                            self.camera.id, v.id)
                return out
            self._inbox.append(_ChangeItem(change.kind, out, change.worst_at))
            self._open_ids.add(v.id)
            self._ensure_thread()
            self._cond.notify_all()
        return out

    def finished(self) -> list[Violation]:
        """Violations whose evidence was completed (or given up) since the last call."""
        with self._cond:
            done, self._finished = self._finished, []
        return done

    def close(self, timeout: float | None = None) -> None:
        """End of stream: finish every clip with the post-roll there is, and wait for the encoder."""
        with self._cond:
            if self._closed:
                thread = self._thread
            else:
                self._closed = True
                thread = self._thread
                if thread is not None:
                    self._inbox.append(_CloseItem())
                    self._cond.notify_all()
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("evidence for camera %s still encoding after %.1f s",
                            self.camera.id, timeout or 0)

    def open_ids(self) -> set[str]:
        """Violations whose evidence is in progress: retention elsewhere must not delete them."""
        with self._cond:
            return set(self._open_ids)

    def stats(self) -> RecorderStats:
        with self._cond:
            return dataclasses.replace(self._stats)

    def __enter__(self) -> EvidenceRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"evidence-{self.camera.id}", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------------ the worker

    def _run(self) -> None:
        while True:
            item: _Item | None = None
            with self._cond:
                while not self._inbox and not self._has_encode_work():
                    self._cond.wait(timeout=self._retention_wait())
                    if not self._inbox:
                        break
                if self._inbox:
                    item = self._inbox.popleft()
                    if isinstance(item, _FrameItem):
                        self._cond.notify_all()  # a file source may be waiting for room
            if item is not None:
                # take in everything queued before encoding the next clip frame
                self._guarded(self._handle, item)
                if self._closing:
                    self._guarded(self._finish_all)
                    self._abandon_all()
                    self._guarded(self._maybe_retention)  # the last clips count toward the limit too
                    return
                # a worker that always has frames queued (every source frame of a file replayed
                # faster than real time, a busy camera) must still encode and apply retention:
                # after each frame taken in, up to ENCODE_PER_FRAME clip frames are encoded, so a
                # clip catches up with its pre-roll even while frames keep arriving
                if isinstance(item, _FrameItem):
                    for _ in range(ENCODE_PER_FRAME):
                        if not self._has_encode_work():
                            break
                        self._guarded(self._encode_step)
                self._guarded(self._maybe_retention)
                continue
            self._guarded(self._encode_step)
            self._maybe_retention()

    def _guarded(self, fn: Callable[..., None], *args: Any) -> None:
        """Last resort: an evidence bug must cost at most that evidence, never the worker thread."""
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - see docstring
            log.exception("evidence worker for camera %s: %s", self.camera.id, exc)
            with self._cond:
                self._stats.errors += 1

    def _handle(self, item: _Item) -> None:
        if isinstance(item, _FrameItem):
            self._ingest(item.frame, item.overlay, item.analysed)
        elif isinstance(item, _ChangeItem):
            self._change(item)
        else:
            self._closing = True

    def _ingest(self, frame: Frame, overlay: Overlay, analysed: bool = True) -> None:
        t0 = time.perf_counter()
        newest = self.ring.newest
        if newest is not None and frame.ts < newest.ts - timedelta(seconds=1):
            log.warning("camera %s: time went back from %s to %s; finishing open clips",
                        self.camera.id, iso_ms(newest.ts), iso_ms(frame.ts))
            self._finish_all()
            self.ring = FrameRing(self.span_s, self.ring.max_frames)
        try:
            image, scale = prepare_image(frame.image, self.cfg.buffer_max_width)
            jpeg = encode_jpeg(image, self.cfg.jpeg_quality)
        except (ValueError, cv2.error) as exc:
            log.warning("camera %s frame %d not buffered: %s", self.camera.id, frame.index, exc)
            return
        h, w = image.shape[:2]
        bf = self.ring.append(frame.index, frame.ts, jpeg, w, h, scale, overlay.scaled(scale), analysed=analysed)
        for job in self._jobs.values():
            if job.clip.done or (job.clip.end_limit is not None and bf.ts > job.clip.end_limit):
                pass
            else:
                job.clip.pending.append(bf)
                if len(job.clip.pending) > self.max_job_backlog:
                    job.clip.pending.popleft()
                    job.clip.overflow += 1
            self._consider_snapshot(job, bf)
        with self._cond:
            self._stats.frames_buffered += 1
            self._stats.ring_frames = len(self.ring)
            self._stats.ring_bytes = self.ring.nbytes
            self._stats.jpeg_ms += (time.perf_counter() - t0) * 1000
        self._settle_jobs()

    def _change(self, item: _ChangeItem) -> None:
        v = item.violation
        if v.id in self._done:
            with self._cond:
                self._open_ids.discard(v.id)
            return  # a late change of a violation whose evidence is complete: keep those files
        job = self._jobs.get(v.id)
        new = job is None
        if job is None:
            job = self._start_job(v)
        job.violation = v
        if item.kind == ChangeKind.ended:
            job.clip.ended = True
            end = v.ended_at or (self.ring.newest.ts if self.ring.newest else v.started_at)
            # a frame stands for the interval after it: the clip ends within half a frame of end + post
            job.clip.end_limit = end + timedelta(seconds=self.cfg.post_s - self.frame_interval_s / 2)
            while job.clip.pending and job.clip.pending[-1].ts > job.clip.end_limit:
                job.clip.pending.pop()
        if job.snap.score is None:
            target = item.worst_at
            if target is None and job.snap.target is None:
                target = self._grace_end(job)
            if target is not None:
                target = max(target, self._grace_end(job))  # never a moment the grace still ran
                if target != job.snap.target:
                    self._retarget_snapshot(job, target)
        if new:
            for bf in self.ring:  # frames analysed before the change reached this thread
                self._consider_snapshot(job, bf)
        self._settle_jobs()

    def _open_ids_snapshot(self) -> set[str]:
        with self._cond:
            return set(self._open_ids)

    def _start_job(self, v: Violation) -> _Job:
        paths = EvidencePaths.for_violation(self.camera.id, v.id)
        grace = next((r.grace_s for r in self.camera.rules if r.type == v.rule and r.zone == v.zone), 0.0)
        clip_from = v.started_at - timedelta(seconds=self.cfg.pre_s)
        meta = {"violation": v.id, "camera": self.camera.id, "rule": v.rule, "zone": v.zone,
                "started_at": iso_ms(v.started_at), "pre_s": self.cfg.pre_s, "post_s": self.cfg.post_s,
                "title": f"{self.camera.id} {v.rule} {v.zone} {v.id}"}
        if self.site:
            meta["site"] = self.site
        fps, preset, crf = self.source_fps, self.cfg.clip_preset, self.cfg.clip_crf
        job = _Job(
            violation=v, paths=paths, clip_from=clip_from, grace_s=grace,
            clip=_Clip(
                raw=ClipWriter(self.data_dir / paths.clip, fps=fps, preset=preset, crf=crf,
                               metadata={**meta, "annotated": False}),
                annotated=ClipWriter(self.data_dir / paths.clip_annotated, fps=fps, preset=preset, crf=crf,
                                     metadata={**meta, "annotated": True}),
            ),
        )
        with self._cond:
            job.clip.dropped_at_start = self._stats.frames_dropped
        start = self.ring.closest(clip_from)
        if start is not None:
            job.clip.pending.extend(self.ring.after(start.seq - 1))
            if start.ts > clip_from + timedelta(seconds=self.frame_interval_s):
                job.clip.pre_note = (f"pre-roll short: the buffer reached back to {iso_ms(start.ts)}, "
                                f"not {iso_ms(clip_from)}")
        self._jobs[v.id] = job
        return job

    # ------------------------------------------------------------------ snapshot

    @staticmethod
    def _grace_end(job: _Job) -> datetime:
        return job.violation.started_at + timedelta(seconds=job.grace_s)

    @staticmethod
    def _clarity(job: _Job, bf: BufferedFrame) -> tuple[float, ...] | None:
        """How clearly an analysed frame shows this violation (higher is clearer), from the rule's
        own overlay; None for frames the rule did not score (its condition did not hold there,
        e.g. while it clears), held frames and other violations."""
        if not bf.analysed:
            return None
        for rule in bf.overlay.rules:
            if rule.violation_id == job.violation.id:
                return rule.score
        return None

    def _retarget_snapshot(self, job: _Job, target: datetime) -> None:
        """Fallback for frames without clarity scores: the frame nearest ``target`` (>= grace end)."""
        oldest = self.ring.oldest
        if job.snap.written is not None and oldest is not None and target < oldest.ts:
            return  # that moment has left the buffer; the snapshot already written stays
        job.snap.target = target
        floor = self._grace_end(job) - timedelta(milliseconds=1)
        best, best_d = None, None
        for bf in self.ring:
            if bf.ts < floor or not bf.analysed:
                continue
            d = abs((bf.ts - target).total_seconds())
            if best_d is None or d < best_d:
                best, best_d = bf, d
        job.snap.best = best
        job.snap.dirty = job.snap.best is not None and job.snap.best is not job.snap.written

    def _consider_snapshot(self, job: _Job, bf: BufferedFrame) -> None:
        """The clearest analysed frame after the grace ran out becomes the snapshot.

        Rules score their own frames (``RuleOverlay.score``: fewest staff, items in full view,
        the intruder at their largest); ties keep the earlier frame. Frames nobody scored fall
        back to the rule's ``worst_at`` (never before the grace ran out).
        """
        score = self._clarity(job, bf)
        if score is not None:
            if job.snap.score is None or score > job.snap.score:
                job.snap.best, job.snap.score, job.snap.dirty = bf, score, True
            return
        if job.snap.score is not None or job.snap.target is None or not bf.analysed:
            return
        if bf.ts < self._grace_end(job) - timedelta(milliseconds=1):
            return
        best = job.snap.best
        if best is None or abs((bf.ts - job.snap.target).total_seconds()) < abs(
            (best.ts - job.snap.target).total_seconds()
        ):
            job.snap.best = bf
            job.snap.dirty = True

    def _maybe_write_snapshot(self, job: _Job, final: bool) -> None:
        newest = self.ring.newest
        if not job.snap.dirty or job.snap.best is None:
            return
        if not final:
            if job.snap.score is not None:
                # the first clear frame at once (an open violation needs a picture), better ones
                # at most every SNAPSHOT_REWRITE_S, the best one when the violation is complete
                if job.snap.written is not None and time.monotonic() - job.snap.written_at < SNAPSHOT_REWRITE_S:
                    return
            elif job.snap.target is None or newest is None or newest.ts < job.snap.target:
                return  # a closer frame may still come
        bf = job.snap.best
        path = self.data_dir / job.paths.snapshot
        part = path.with_name(path.name + ".part")
        try:
            image = self._render(bf, job, self._decode(bf))
            data = encode_jpeg(image, max(self.cfg.jpeg_quality, 85))
            path.parent.mkdir(parents=True, exist_ok=True)
            part.write_bytes(data)
            part.replace(path)
        except _WRITE_ERRORS as exc:
            self._fail(job, "snapshot", exc)
            try:
                part.unlink(missing_ok=True)
            except OSError:
                pass
            job.snap.dirty = False
            return
        job.snap.written, job.snap.dirty, job.snap.failed = bf, False, False
        job.snap.written_at = time.monotonic()
        with self._cond:
            self._stats.snapshots_written += 1
            self._missing.get(job.violation.id, set()).discard("snapshot")

    # ------------------------------------------------------------------ clips

    def _horizon(self, job: _Job) -> datetime | None:
        newest = self.ring.newest
        if newest is None:
            return None
        if self._closing:
            return job.clip.end_limit or newest.ts
        if job.clip.end_limit is not None and newest.ts >= job.clip.end_limit:
            return job.clip.end_limit
        horizon = newest.ts - timedelta(seconds=self.hold_s)
        return min(horizon, job.clip.end_limit) if job.clip.end_limit is not None else horizon

    def _has_encode_work(self) -> bool:
        for job in self._jobs.values():
            if job.clip.done or not job.clip.pending:
                continue
            horizon = self._horizon(job)
            if horizon is not None and job.clip.pending[0].ts <= horizon:
                return True
        return False

    def _encode_step(self) -> None:
        """Encode one frame of each job that has one due, then return to take in new frames."""
        for job in list(self._jobs.values()):
            if job.clip.done or not job.clip.pending:
                continue
            horizon = self._horizon(job)
            if horizon is None or job.clip.pending[0].ts > horizon:
                continue
            bf = job.clip.pending.popleft()
            t0 = time.perf_counter()
            self._encode_frame(job, bf)
            with self._cond:
                self._stats.encode_ms += (time.perf_counter() - t0) * 1000
        self._settle_jobs()

    def _encode_frame(self, job: _Job, bf: BufferedFrame) -> None:
        first = job.clip.raw.first_ts
        half = self.frame_interval_s / 2
        if first is not None and (bf.ts - first).total_seconds() + half > self.cfg.max_clip_s:
            job.clip.truncated = True
            job.clip.pending.clear()
            self._close_clip(job)
            return
        try:
            image = self._decode(bf)
            job.clip.raw.write(image, bf.ts)
            job.clip.annotated.write(self._render(bf, job, image), bf.ts)
        except _WRITE_ERRORS as exc:
            self._fail(job, "clip", exc)
            job.clip.raw.abort()
            job.clip.annotated.abort()
            job.clip.done, job.clip.failed = True, True
            job.clip.pending.clear()

    def _close_clip(self, job: _Job) -> None:
        if job.clip.done:
            return
        job.clip.done = True
        try:
            job.clip.stats = job.clip.raw.close()
            job.clip.annotated.close()
        except _WRITE_ERRORS as exc:
            self._fail(job, "clip", exc)
            job.clip.raw.abort()
            job.clip.annotated.abort()
            job.clip.failed = True
            return
        if job.clip.stats is None:
            job.clip.failed = True
            job.errors.append("no frames were buffered for the clip")
        else:
            with self._cond:
                self._stats.clips_written += 1

    def _settle_jobs(self) -> None:
        """Write due snapshots, close clips whose post-roll is in, hand completed violations back."""
        newest = self.ring.newest
        for vid, job in list(self._jobs.items()):
            if not job.clip.done and job.clip.end_limit is not None and newest is not None:
                horizon = self._horizon(job)
                caught_up = not job.clip.pending or (horizon is not None and job.clip.pending[0].ts > horizon)
                if newest.ts >= job.clip.end_limit and caught_up:
                    job.clip.pending.clear()
                    self._close_clip(job)
            self._maybe_write_snapshot(job, final=self._closing or (job.clip.ended and job.clip.done))
            if job.clip.done and (job.clip.ended or self._closing) and not job.snap.dirty:
                self._complete(vid, job)

    def _finish_all(self) -> None:
        """End of stream (or a time jump): encode what is pending, close every clip and snapshot."""
        closing = self._closing
        self._closing = True
        try:
            for job in list(self._jobs.values()):
                while job.clip.pending and not job.clip.done:
                    bf = job.clip.pending.popleft()
                    if job.clip.end_limit is not None and bf.ts > job.clip.end_limit:
                        continue
                    self._encode_frame(job, bf)
                self._close_clip(job)
                self._maybe_write_snapshot(job, final=True)
            self._settle_jobs()
        finally:
            self._closing = closing

    def _abandon_all(self) -> None:
        """Hand back any violation a failure left unfinished: its record matters more than its files."""
        for vid, job in list(self._jobs.items()):
            job.clip.raw.abort()
            job.clip.annotated.abort()
            if not job.clip.done:
                job.clip.done, job.clip.failed = True, True
                job.errors.append("clip: not finished (internal error, see the log)")
            job.snap.dirty = False
            try:
                self._complete(vid, job)
            except Exception as exc:  # noqa: BLE001 - last resort, see _guarded
                log.exception("evidence for violation %s abandoned: %s", vid, exc)
                with self._cond:
                    self._finished.append(job.violation.model_copy(update={
                        "snapshot": None, "clip": None,
                        "details": {**job.violation.details, "evidence_error": f"internal error: {exc}"}}))
                    self._open_ids.discard(vid)

    def _complete(self, vid: str, job: _Job) -> None:
        del self._jobs[vid]
        self._done.add(vid)
        self._done_order.append(vid)
        if len(self._done_order) > 10_000:
            self._done.discard(self._done_order.popleft())
        v = job.violation
        details = dict(v.details)
        details.pop("evidence_error", None)  # a stale copy from on_change; job.errors is the truth
        details["clip_annotated"] = job.paths.clip_annotated
        self._check_files(job)
        details.update(self._clip_details(job))
        with self._cond:
            dropped = self._stats.frames_dropped - job.clip.dropped_at_start + job.clip.overflow
        if dropped:
            details["clip_dropped_frames"] = dropped
        if job.snap.written is not None and not job.snap.failed:
            details["snapshot_at"] = iso_ms(job.snap.written.ts)
        elif not job.snap.failed:
            job.snap.failed = True
            job.errors.append("snapshot: no frame was buffered")
        if job.errors:
            details["evidence_error"] = "; ".join(job.errors)
        if job.clip.failed or not (self.data_dir / job.paths.clip_annotated).is_file():
            details.pop("clip_annotated", None)
        if job.clip.overlay_error:
            details["overlay_error"] = job.clip.overlay_error
        details.update(self._digests(job, with_annotated="clip_annotated" in details))
        final = v.model_copy(update={
            "snapshot": None if job.snap.failed else job.paths.snapshot,
            "clip": None if job.clip.failed else job.paths.clip,
            "details": details,
        })
        with self._cond:
            self._finished.append(final)
            self._open_ids.discard(vid)
            self._notes.pop(vid, None)
            self._missing.pop(vid, None)
        if self.cfg.retention_max_mb is not None:
            # a size limit is checked after every clip, not only every RETENTION_EVERY_S: a busy
            # camera writes many clips in ten minutes, and a small disk fills in between
            self._next_retention = 0.0

    def _check_files(self, job: _Job) -> None:
        """Trust the disk over the bookkeeping: a record must never point at a file that is not there."""
        if not job.clip.failed and not (job.clip.stats is not None and (self.data_dir / job.paths.clip).is_file()):
            job.clip.failed = True
            job.errors.append("clip: not written")
        if not job.snap.failed and job.snap.written is not None and not (
            self.data_dir / job.paths.snapshot
        ).is_file():
            job.snap.failed = True
            job.errors.append("snapshot: not written")

    def _clip_details(self, job: _Job) -> dict[str, Any]:
        """What the record says about its clip: first frame, length, frames, time before and after."""
        details: dict[str, Any] = {}
        v, st = job.violation, job.clip.stats
        if st is not None and not job.clip.failed:
            details["clip_first_frame_at"] = iso_ms(st.first_ts)
            details["clip_duration_s"] = round(st.duration_s, 3)
            details["clip_frames"] = st.frames
            details["clip_pre_s"] = round((v.started_at - st.first_ts).total_seconds(), 3)
            if v.ended_at is not None and not job.clip.truncated:
                end = st.last_ts + timedelta(seconds=self.frame_interval_s)
                details["clip_post_s"] = round((end - v.ended_at).total_seconds(), 3)
        if job.clip.truncated:
            details["clip_truncated"] = True
            details["clip_note"] = (f"violation longer than max_clip_s={self.cfg.max_clip_s:g} s: "
                                    f"the clip keeps its first {self.cfg.max_clip_s:g} s")
        elif job.clip.pre_note:
            details["clip_note"] = job.clip.pre_note
        return details

    def _digests(self, job: _Job, *, with_annotated: bool) -> dict[str, str]:
        """Tamper evidence: the finished files' SHA-256, checked by the API on upload and by
        `tellerwatch verify` against its evidence folder."""
        out: dict[str, str] = {}
        for key, rel, ok in (("snapshot_sha256", job.paths.snapshot, not job.snap.failed),
                             ("clip_sha256", job.paths.clip, not job.clip.failed),
                             ("clip_annotated_sha256", job.paths.clip_annotated, with_annotated)):
            digest = sha256_file(self.data_dir / rel) if ok else None
            if digest is not None:
                out[key] = digest
        return out

    def _fail(self, job: _Job, what: str, exc: BaseException) -> None:
        msg = f"{what}: {exc}"
        log.error("camera %s violation %s: %s evidence not written: %s", self.camera.id,
                  job.violation.id, what, exc)
        job.errors.append(msg)
        if what == "snapshot":
            job.snap.failed = True
        with self._cond:
            self._stats.errors += 1
            self._notes.setdefault(job.violation.id, {})["evidence_error"] = "; ".join(job.errors)
            self._missing.setdefault(job.violation.id, set()).add(what)

    # ------------------------------------------------------------------ drawing

    def _decode(self, bf: BufferedFrame) -> np.ndarray:
        image = self._decoded.get(bf.seq)
        if image is None:
            image = bf.decode()
            if len(self._decoded) >= 4:
                self._decoded.pop(next(iter(self._decoded)))
            self._decoded[bf.seq] = image
        return image

    def _render(self, bf: BufferedFrame, job: _Job, image: np.ndarray) -> np.ndarray:
        key = (image.shape[1], image.shape[0])
        renderer = self._renderers.get(key)
        if renderer is None:
            renderer = self._renderers[key] = Renderer(*key)
        v = job.violation
        if job.clip.plain:
            return image
        focus = self._focus(job, bf)
        try:
            return renderer.draw(image, bf.overlay, ts=bf.ts, focus=focus)
        except (ValueError, TypeError, IndexError, KeyError, cv2.error) as exc:
            # a malformed overlay must not cost the clip: the annotated one goes on unannotated
            log.warning("camera %s violation %s: overlay not drawn, annotated clip continues plain: %s",
                        self.camera.id, v.id, exc)
            job.clip.plain = True
            job.clip.overlay_error = str(exc)
            return image

    def _focus(self, job: _Job, bf: BufferedFrame) -> Focus:
        v = job.violation
        if bf.ts < v.started_at:
            phase, elapsed = "pre", (bf.ts - v.started_at).total_seconds()
        elif v.ended_at is not None and bf.ts > v.ended_at:
            phase, elapsed = "after", (bf.ts - v.ended_at).total_seconds()
        else:
            phase, elapsed = "active", (bf.ts - v.started_at).total_seconds()
        rule = next((r for r in self.camera.rules if r.type == v.rule and r.zone == v.zone), None)
        return Focus(rule=v.rule, zone=v.zone, phase=phase, elapsed_s=elapsed,
                     min_staff=getattr(rule, "min_staff", None), attended_by=getattr(rule, "attended_by", None))

    # ------------------------------------------------------------------ retention

    def _retention_wait(self) -> float | None:
        if self.cfg.retention_days is None and self.cfg.retention_max_mb is None:
            return None
        return max(0.05, self._next_retention - time.monotonic())

    def _maybe_retention(self) -> None:
        if self.cfg.retention_days is None and self.cfg.retention_max_mb is None:
            return
        now = time.monotonic()
        if now < self._next_retention:
            return
        self._next_retention = now + RETENTION_EVERY_S
        protected = set(self._jobs) | self._open_ids_snapshot()
        if self._protected is not None:
            protected |= set(self._protected())
        max_bytes = None if self.cfg.retention_max_mb is None else int(self.cfg.retention_max_mb * 1e6)
        apply_retention(self.dir, self.cfg.retention_days, max_bytes, protected)


def sha256_file(path: Path) -> str | None:
    """Hex SHA-256 of a finished evidence file; ``None`` (and a log line) if it cannot be read."""
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as exc:
        log.warning("evidence %s: not hashed: %s", path, exc)
        return None
