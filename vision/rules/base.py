"""The temporal core every rule shares: grace, hysteresis both ways, schedule gating, closing.

Detections flicker: a teller hidden for a second by a pillar, a missed frame, a tracker that
swaps ids. An operator must be able to trust each alert, so a condition has to hold for
``grace_s`` before it becomes a violation, and has to be absent for ``clear_s`` before a
violation (or a grace period in progress) is given up. Observations are treated as
sample-and-hold: the state seen at one frame lasts until the next one, which is what makes
sparse streams (a motion gate that skips still frames) behave like dense ones.

Times in the violation record follow DESIGN.md: ``started_at`` is when the condition began,
``ended_at`` when it first cleared, or the closing boundary of the rule's schedule, or the last
frame of a file.
"""

from __future__ import annotations

import builtins
import enum
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from vision.config import RuleBase, When, ZoneKind
from vision.events import (
    ChangeKind,
    RuleType,
    Severity,
    Violation,
    ViolationChange,
    ViolationState,
    new_violation_id,
)
from vision.observations import Observation, ZoneState
from vision.rules.schedule import Schedule

# timestamps built from float seconds land a microsecond either side of a whole second;
# a grace or clear period that is "exactly reached" must count as reached
_EPS_S = 1e-6

S = TypeVar("S")
S_contra = TypeVar("S_contra", contravariant=True)
C = TypeVar("C", bound=RuleBase)


class Phase(enum.StrEnum):
    idle = "idle"
    pending = "pending"  # condition holds, grace running
    active = "active"  # violation open


@runtime_checkable
class Rule(Protocol):
    """What the pipeline drives: one object per configured rule of a camera."""

    @property
    def type(self) -> RuleType: ...

    @property
    def zone(self) -> str: ...

    @property
    def config(self) -> RuleBase: ...

    def step(self, obs: Observation) -> list[ViolationChange]: ...

    def close(self, last_ts: datetime) -> list[ViolationChange]: ...

    def status(self) -> RuleStatus | None: ...


@dataclass(frozen=True, slots=True)
class RuleStatus:
    """A rule whose condition holds right now (grace running or violation open), for overlays
    and live views: operators want to see a violation coming, not only once it is filed."""

    name: str  # "dual_teller/teller_area"
    rule: str
    zone: str
    phase: Phase
    since: datetime
    elapsed_s: float
    violation_id: str | None
    # how clearly this frame shows the open violation (higher is clearer; compared as a tuple):
    # the evidence recorder takes the clearest frame after the grace ran out as the snapshot
    score: tuple[float, ...] | None = None


class Tally(ABC, Generic[S_contra]):
    """What a rule remembers about one condition episode, from its first frame on.

    Frames of the grace period count too: ``min_staff_seen`` or the non-staff who walked in
    belong to the violation even if they were seen before the grace ran out.
    """

    worst_at: datetime | None = None

    @abstractmethod
    def add(self, sample: S_contra, ts: datetime) -> bool:
        """Fold one frame in; True when the violation record changed in a way worth re-sending."""

    @abstractmethod
    def details(self) -> dict[str, Any]: ...

    def track_ids(self) -> list[int]:
        return []


class TrackSetTally(Tally[tuple[int, ...]]):
    """Everyone seen in the zone during the violation (confirmed track ids), not just who is there
    now, and the most at once, reported under ``detail_key``: the reviewer needs to find the
    person who walked in even after a colleague came to escort them out."""

    def __init__(self, detail_key: str) -> None:
        self.detail_key = detail_key
        self.tracks: set[int] = set()
        self.max_seen = 0
        self.worst_at: datetime | None = None

    def add(self, sample: tuple[int, ...], ts: datetime) -> bool:
        material = False
        if len(sample) > self.max_seen:
            self.max_seen, self.worst_at = len(sample), ts
            material = True
        known = [t for t in sample if t >= 0]
        if not self.tracks.issuperset(known):
            self.tracks.update(known)
            material = True
        return material

    def details(self) -> dict[str, Any]:
        return {self.detail_key: self.max_seen}

    def track_ids(self) -> list[int]:
        return sorted(self.tracks)


@dataclass(frozen=True, slots=True)
class RuleIdentity:
    """The fields of a violation record that never change during a rule's life."""

    site: str
    camera: str
    rule: str
    zone: str
    severity: Severity


class Hysteresis(Generic[S]):
    """One condition's life cycle: idle -> pending -> active, with a clearing timer in both.

    ``absent_since`` is the clearing sub-state: set on the first frame the condition is missing,
    in pending (a dropout shorter than ``clear_s`` does not restart the grace) as in active (a
    dropout shorter than ``clear_s`` does not split the violation).
    """

    def __init__(
        self,
        identity: RuleIdentity,
        grace_s: float,
        clear_s: float,
        new_tally: Callable[[], Tally[S]],
    ) -> None:
        self.identity = identity
        self.grace = timedelta(seconds=max(grace_s - _EPS_S, 0.0))
        self.clear = timedelta(seconds=max(clear_s - _EPS_S, 0.0))
        self._new_tally = new_tally
        self.phase = Phase.idle
        self.started_at: datetime | None = None
        self.absent_since: datetime | None = None
        self.violation_id: str | None = None
        self.display_tz: tzinfo | None = None  # records carry the zone the observations came in
        self._tally: Tally[S] | None = None
        self.flags: dict[str, Any] = {}  # added to the details of the running violation

    def observe(self, ts: datetime, sample: S | None, start: datetime | None = None) -> list[ViolationChange]:
        """One frame: ``sample`` is None when the condition does not hold.

        ``start`` backdates a new episode (the schedule opened between two frames while the
        condition already held): the violation began at the opening, not at the next frame.
        """
        changes = self._expire(ts)
        if sample is None:
            if self.phase is not Phase.idle and self.absent_since is None:
                self.absent_since = ts
                changes.extend(self._expire(ts))  # clear_s = 0 ends on this very frame
            return changes
        self.absent_since = None
        if self.phase is Phase.idle or self._tally is None or self.started_at is None:
            self.phase = Phase.pending
            self.started_at = start if start is not None and start <= ts else ts
            self._tally = self._new_tally()
        material = self._tally.add(sample, ts)
        if self.phase is Phase.pending and ts - self.started_at >= self.grace:
            self.phase = Phase.active
            self.violation_id = new_violation_id()
            changes.append(self._change(ChangeKind.started, now=ts))
        elif self.phase is Phase.active and material:
            changes.append(self._change(ChangeKind.updated, now=ts))
        return changes

    def flag(self, key: str, value: Any, ts: datetime) -> list[ViolationChange]:
        """Mark the open violation (``view_tampered``); an update when the mark is new."""
        if self.phase is not Phase.active or self.flags.get(key) == value:
            return []
        self.flags[key] = value
        return [self._change(ChangeKind.updated, now=ts)]

    def stop(self, at: datetime) -> list[ViolationChange]:
        """End whatever is running at ``at`` (closing time, end of file).

        A violation already clearing ended when it cleared, not at ``at``: the condition was
        gone before the schedule or the file stopped.
        """
        changes: list[ViolationChange] = []
        if self.phase is Phase.active:
            ended = self.absent_since if self.absent_since is not None else at
            changes.append(self._end(ended))
        self._reset()
        return changes

    def _expire(self, ts: datetime) -> list[ViolationChange]:
        # sample-and-hold: an absence that has lasted clear_s by this frame is over, whatever
        # this frame shows
        if self.absent_since is None or ts - self.absent_since < self.clear:
            return []
        changes = [self._end(self.absent_since)] if self.phase is Phase.active else []
        self._reset()
        return changes

    def _end(self, ended_at: datetime) -> ViolationChange:
        if self.started_at is not None:
            ended_at = max(ended_at, self.started_at)
        return self._change(ChangeKind.ended, now=ended_at, ended=True)

    def _reset(self) -> None:
        self.phase = Phase.idle
        self.started_at = None
        self.absent_since = None
        self.violation_id = None
        self._tally = None
        self.flags = {}

    def _change(self, kind: ChangeKind, *, now: datetime, ended: bool = False) -> ViolationChange:
        tally, started, vid = self._tally, self.started_at, self.violation_id
        if tally is None or started is None or vid is None:
            raise RuntimeError(f"internal: {kind.value} change outside an active violation")
        ident, shown = self.identity, self.shown
        violation = Violation(
            id=vid,
            site=ident.site,
            camera=ident.camera,
            rule=ident.rule,
            zone=ident.zone,
            severity=ident.severity,
            state=ViolationState.ended if ended else ViolationState.open,
            started_at=shown(started),
            ended_at=shown(now) if ended else None,
            duration_s=max((now - started).total_seconds(), 0.0),
            track_ids=sorted(tally.track_ids()),
            details={**tally.details(), **self.flags},
        )
        worst = tally.worst_at
        return ViolationChange(kind=kind, violation=violation, worst_at=shown(worst) if worst else None)

    def shown(self, ts: datetime) -> datetime:
        """``ts`` (kept in UTC) in the zone the observations came in."""
        return ts if self.display_tz is None else ts.astimezone(self.display_tz)


class TemporalRule(ABC, Generic[C, S]):
    """A rule = a per-frame condition on the observation + the shared temporal core.

    Subclasses say what the condition is (``sample``: None when it does not hold, otherwise
    what this frame contributes) and how frames add up (``new_tally``). Everything about time
    lives here, so the three rules cannot drift apart in how they treat a dropout or closing time.
    """

    type: RuleType
    config_type: ClassVar[builtins.type[RuleBase]]
    # rules whose condition is "too few staff" or "nobody there" skip frames of the warm-up
    # (``Observation.warming``): a person not yet confirmed by the tracker is not an absence
    waits_for_warmup: ClassVar[bool] = False
    # rules about the picture itself (camera_tamper) go on while the view is tampered; the others
    # pause then: a covered lens shows an empty counter, which says nothing about the counter
    watches_view: ClassVar[bool] = False

    def __init__(self, config: C, *, site_id: str, camera_id: str, schedule: Schedule) -> None:
        if not isinstance(config, self.config_type):
            raise ValueError(
                f"{type(self).__name__} needs a {self.config_type.__name__} config, "
                f"got {type(config).__name__}"
            )
        self.config: C = config
        self.zone = config.zone
        self.schedule = schedule
        self._core: Hysteresis[S] = Hysteresis(
            RuleIdentity(site_id, camera_id, self.type.value, config.zone, Severity(config.severity)),
            config.grace_s,
            config.clear_s,
            self.new_tally,
        )
        self._gate_open = True
        self._gate_until: datetime | None = None  # next moment the schedule must be asked again
        self._prev_ts: datetime | None = None
        self._prev_held = False
        self._score: tuple[float, ...] | None = None

    # ------------------------------------------------------------------ what subclasses say

    @abstractmethod
    def sample(self, obs: Observation) -> S | None:
        """This frame's contribution when the condition holds, None when it does not."""

    @abstractmethod
    def new_tally(self) -> Tally[S]: ...

    def clarity(self, obs: Observation, sample: S) -> tuple[float, ...]:
        """How clearly ``obs`` shows the breach, for choosing the snapshot (higher is clearer)."""
        return (0.0,)

    def episode_start(self, obs: Observation) -> datetime | None:
        """When a condition first seen on this frame really began, if before this frame
        (tailgating: the first of the persons entering); None: it began now."""
        return None

    def zone_state(self, obs: Observation, name: str | None = None) -> ZoneState:
        """A zone the pipeline did not report is empty: nobody and nothing was seen in it."""
        zone = self.zone if name is None else name
        state = obs.zones.get(zone)
        if state is None:
            return ZoneState(name=zone, kind=ZoneKind.generic)
        return state

    # ------------------------------------------------------------------ the Rule interface

    @property
    def phase(self) -> Phase:
        return self._core.phase

    def _utc(self, ts: datetime) -> datetime:
        """State is kept in UTC: aware datetimes sharing a DST zone subtract as wall-clock times,
        which would stretch or shrink a grace period across a clock change."""
        local = self.schedule.localize(ts)
        self._core.display_tz = local.tzinfo
        return local.astimezone(UTC)

    def step(self, obs: Observation) -> list[ViolationChange]:
        ts = self._utc(obs.ts)
        if self._prev_ts is not None and ts < self._prev_ts:
            # a live clock stepped back: replaying older time would shorten or reverse violations
            return []
        changes, opened_at = self._advance_gate(ts)
        if obs.tamper is not None and not self.watches_view:
            # neither holds nor clears while the view is tampered; an open violation says so
            self._prev_ts = ts
            if self._gate_open:
                changes.extend(self._core.flag("view_tampered", True, ts))
            return changes
        if obs.warming and self.waits_for_warmup:
            self._prev_ts = ts  # neither holds nor clears: the frame says nothing about absence yet
            return changes
        sample = self.sample(obs)
        held = sample is not None
        if self._gate_open:
            start = opened_at if opened_at is not None and self._prev_held else None
            if start is None and held and self._core.phase is Phase.idle:
                began = self.episode_start(obs)
                start = self._utc(began) if began is not None else None
            changes.extend(self._core.observe(ts, sample, start))
        self._score = (
            self.clarity(obs, sample) if sample is not None and self._core.phase is Phase.active else None
        )
        self._prev_ts, self._prev_held = ts, held
        return changes

    def close(self, last_ts: datetime) -> list[ViolationChange]:
        """End of a file: what is still open ends at the last frame; the rule is then fresh."""
        ts = self._utc(last_ts)
        changes: list[ViolationChange] = []
        if self._prev_ts is None or ts >= self._prev_ts:
            changes, _ = self._advance_gate(ts)
        changes.extend(self._core.stop(ts))
        self._gate_open, self._gate_until = True, None
        self._prev_ts, self._prev_held = None, False
        return changes

    def status(self) -> RuleStatus | None:
        """Where the condition stands as of the last frame; None while idle."""
        core, now = self._core, self._prev_ts
        if core.phase is Phase.idle or core.started_at is None or now is None:
            return None
        since = core.shown(core.started_at)
        return RuleStatus(
            name=f"{self.type.value}/{self.zone}",
            rule=self.type.value,
            zone=self.zone,
            phase=core.phase,
            since=since,
            elapsed_s=max((now - core.started_at).total_seconds(), 0.0),
            violation_id=core.violation_id,
            score=self._score,
        )

    # ------------------------------------------------------------------ schedule gating

    def _next_check(self, ts: datetime) -> datetime:
        nxt = self.schedule.next_change(ts)
        # no boundary within the horizon (no hours at all, a long holiday): look again later
        return nxt if nxt is not None else ts + self.schedule.horizon

    def _advance_gate(self, ts: datetime) -> tuple[list[ViolationChange], datetime | None]:
        """Apply every schedule boundary up to ``ts``; return the changes and the last opening.

        Boundaries come from ``Schedule.next_change``, so a violation that runs into closing
        time ends at the closing minute itself, not at whichever frame happens to follow it.
        """
        when = When(self.config.when)
        if when is When.always:
            return [], None
        if self._gate_until is None:
            self._gate_open = self.schedule.applies(when, ts)
            self._gate_until = self._next_check(ts)
            return [], None
        changes: list[ViolationChange] = []
        opened_at: datetime | None = None
        while ts >= self._gate_until:
            boundary = self._gate_until
            now_open = self.schedule.applies(when, boundary)
            if now_open != self._gate_open:
                if now_open:
                    opened_at = boundary
                else:
                    changes.extend(self._core.stop(boundary))
                    opened_at = None
                self._gate_open = now_open
            self._gate_until = self._next_check(boundary)
        return changes, opened_at
