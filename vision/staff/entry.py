"""The ``entry`` judge: staff by where a track came from (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vision.config import ZoneConfig, ZoneKind
from vision.staff.common import Verdict
from vision.staff.judges import _trim

# what one observation says about where a track is, most telling first
_TELLER, _DOOR, _CUSTOMER, _COUNTER = "teller", "door", "customer", "counter"
_OUTSIDE, _NEUTRAL = "outside", "neutral"


@dataclass
class _EntryTrack:
    last_t: float
    box: np.ndarray
    in_teller: bool = False
    # what was seen before the first teller-area sighting
    door: str | None = None
    customer: str | None = None
    counter: str | None = None
    n_customer: int = 0
    n_counter: int = 0
    n_outside: int = 0
    # set at the first teller-area sighting (or inherited)
    origin: bool | None = None
    reason: str = ""
    teller_obs: int = 0
    decided: bool | None = None


@dataclass
class _Lost:
    t: float
    box: np.ndarray
    origin: bool
    teller_obs: int
    decided: bool | None
    reason: str


def _centre_and_height(box: np.ndarray) -> tuple[np.ndarray, float]:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]), float(max(box[3] - box[1], 1.0))


class _EntryJudge:
    """Staff by where the track came from; see the module docstring."""

    def __init__(
        self,
        zones: list[ZoneConfig],
        min_evidence: int,
        *,
        memory_s: float,
        forget_s: float,
        max_tracks: int,
        match_distance: float,
    ) -> None:
        self.kinds = {z.name: z.kind for z in zones}
        self.min_evidence = min_evidence
        self.memory_s = memory_s
        self.forget_s = forget_s
        self.max_tracks = max_tracks
        self.match_distance = match_distance
        self.tracks: dict[int, _EntryTrack] = {}
        self.lost: dict[int, _Lost] = {}
        self.visible: set[int] = set()
        self.last_t: float | None = None

    def _region(self, names: frozenset[str]) -> tuple[str, str | None]:
        """The most telling zone an observation is in; generic zones say nothing about origin."""
        by_kind: dict[ZoneKind, str] = {}
        for n in sorted(names):
            k = self.kinds.get(n)
            if k is not None:
                by_kind.setdefault(k, n)
        for kind, label in (
            (ZoneKind.teller_area, _TELLER),
            (ZoneKind.door, _DOOR),
            (ZoneKind.customer_area, _CUSTOMER),
            (ZoneKind.counter, _COUNTER),
        ):
            if kind in by_kind:
                return label, by_kind[kind]
        if ZoneKind.generic in by_kind:
            return _NEUTRAL, by_kind[ZoneKind.generic]
        return _OUTSIDE, None

    def _origin(self, st: _EntryTrack, zone: str | None) -> tuple[bool, str]:
        """Staff or not, judged at a track's first teller-area sighting from what came before."""
        side = st.n_customer + st.n_outside
        if st.door is not None:
            return True, f"came in through door {st.door!r}"
        if side + st.n_counter == 0:
            return True, f"appeared inside teller area {zone!r}"
        if side == 0:
            # only ever seen on the counter: a teller standing up behind it looks exactly like this
            return True, f"appeared at counter {st.counter!r} and stepped into teller area {zone!r}"
        if side + st.n_counter < self.min_evidence:
            return True, f"appeared at the edge of teller area {zone!r} (too few sightings outside it)"
        if st.customer is not None:
            via = f" over counter {st.counter!r}" if st.counter is not None else ""
            return False, f"came from customer area {st.customer!r}{via} into teller area {zone!r}"
        via = f" over counter {st.counter!r}" if st.counter is not None else ""
        return False, f"came from outside every zone{via} into teller area {zone!r}"

    def _inherit(self, box: np.ndarray, t: float) -> tuple[int, _Lost] | None:
        """A recently lost teller-area track whose place this new id has taken, if any.

        Staff candidates win over non-staff ones: a wrong 'staff' costs a missed alert, a wrong
        'non-staff' a false one.
        """
        c, h = _centre_and_height(box)
        best: tuple[tuple[int, float], int] | None = None
        for old, lost in self.lost.items():
            if t - lost.t > self.memory_s:
                continue
            lc, lh = _centre_and_height(lost.box)
            if not 0.4 <= h / lh <= 2.5:
                continue
            d = float(np.linalg.norm(c - lc)) / max(h, lh)
            if d > self.match_distance:
                continue
            key = (0 if lost.origin else 1, d)
            if best is None or key < best[0]:
                best = (key, old)
        if best is None:
            return None
        old = best[1]
        return old, self.lost.pop(old)

    def _forget(self, t: float) -> None:
        self.lost = {k: v for k, v in self.lost.items() if t - v.t <= self.memory_s}
        _trim(self.tracks, t, self.forget_s, self.max_tracks)

    def update(
        self, image: np.ndarray, ids: list[int], boxes: np.ndarray, zones: list[frozenset[str]], t: float
    ) -> dict[int, Verdict]:
        self._new_frame(ids, t)
        return {tid: self._observe(tid, box, names, t) for tid, box, names in zip(ids, boxes, zones, strict=True)}

    def _new_frame(self, ids: list[int], t: float) -> None:
        """Tracks in a teller area that vanished since the last frame may hand over their identity."""
        if self.last_t is not None and t < self.last_t:
            # the clock went back: a looped file or a restarted stream; old ids mean nothing now
            self.tracks.clear()
            self.lost.clear()
            self.visible.clear()
        self.last_t = t
        current = set(ids)
        for gone in self.visible - current:
            st = self.tracks.get(gone)
            if st is not None and st.in_teller and st.origin is not None:
                self.lost[gone] = _Lost(st.last_t, st.box, st.origin, st.teller_obs, st.decided, st.reason)
        self.visible = current
        self._forget(t)

    def _track(self, tid: int, box: np.ndarray, t: float) -> _EntryTrack:
        """The state of ``tid``; a new id takes over a lost teller-area track where it appears."""
        self.lost.pop(tid, None)  # ByteTrack found it again under the same id
        st = self.tracks.get(tid)
        if st is None:
            st = _EntryTrack(last_t=t, box=box)
            self.tracks[tid] = st
            took = self._inherit(box, t)
            if took is not None:
                old, lost = took
                st.origin, st.teller_obs, st.decided = lost.origin, lost.teller_obs, lost.decided
                st.reason = f"took over from track {old} after an id switch ({lost.reason})"
        st.last_t, st.box = t, box
        return st

    def _observe(self, tid: int, box: np.ndarray, names: frozenset[str], t: float) -> Verdict:
        st = self._track(tid, box, t)
        region, zone = self._region(names)
        st.in_teller = region == _TELLER
        if region == _TELLER:
            if st.origin is None:
                st.origin, st.reason = self._origin(st, zone)
            st.teller_obs += 1
            if st.decided is None and st.teller_obs >= self.min_evidence:
                st.decided = st.origin
        elif st.origin is None:
            _note_before_teller(st, region, zone)
        if st.decided is not None:
            return st.decided
        if st.origin is None and region == _CUSTOMER:
            return False  # a customer who has not (yet) come into a teller area
        return None

    def describe(self, track_id: int) -> str | None:
        st = self.tracks.get(track_id)
        return (st.reason or None) if st is not None else None


def _note_before_teller(st: _EntryTrack, region: str, zone: str | None) -> None:
    """What a track did before its first teller-area sighting: the evidence of its origin."""
    if region == _DOOR:
        st.door = st.door or zone
    elif region == _CUSTOMER:
        st.customer = st.customer or zone
        st.n_customer += 1
    elif region == _COUNTER:
        st.counter = st.counter or zone
        st.n_counter += 1
    elif region == _OUTSIDE:
        st.n_outside += 1
